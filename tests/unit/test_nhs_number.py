import pytest

from mockprovider.personas.nhs_number import is_valid


@pytest.mark.parametrize("number", ["9690937286", "9690937294", "9690938533", "9690938576", "9690938681",
                                    "9999999999", "9476718943"])
def test_assurance_suite_numbers_are_valid(number):
    assert is_valid(number)


@pytest.mark.parametrize("number", ["1234567891", "969093728", "96909372860", "969093728X", "9690937287", "",
                                    None, 9690937286, "９６９０９３７２８６"])
def test_invalid_numbers(number):
    assert not is_valid(number)
