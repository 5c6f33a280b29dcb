import pytest

from mockprovider.config import Settings, SettingsError


def test_defaults_match_the_assurance_suite():
    s = Settings.from_env({})
    assert (s.ods_code, s.provider_asid, s.port) == ("B82617", "918999198738", 8080)
    assert s.validation == "strict"


def test_every_setting_reads_its_environment_variable():
    s = Settings.from_env({"MOCKPROVIDER_ODS_CODE": "A12345", "MOCKPROVIDER_PORT": "9000",
                           "MOCKPROVIDER_DOCUMENTS_ENABLED": "false", "MOCKPROVIDER_VALIDATION": "lenient"})
    assert (s.ods_code, s.port, s.documents_enabled, s.validation) == ("A12345", 9000, False, "lenient")


@pytest.mark.parametrize("env", [{"MOCKPROVIDER_PORT": "eighty"}, {"MOCKPROVIDER_VALIDATION": "loose"},
                                 {"MOCKPROVIDER_GPCONNECT_ENABLED": "maybe"}])
def test_bad_values_name_the_variable(env):
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    assert list(env)[0] in str(err.value) or list(env)[0].removeprefix("MOCKPROVIDER_").lower() in str(err.value)


# --- issue #28 item 5: a misspelt MOCKPROVIDER_* variable is named, with the nearest known one --------
from dataclasses import fields  # noqa: E402

from mockprovider.config import unknown_variables  # noqa: E402


def test_a_misspelt_setting_is_named_with_the_nearest_known_variable():
    found = unknown_variables({"MOCKPROVIDER_CONTROLTOKEN": "x", "MOCKPROVIDER_PORT": "9000",
                               "MOCKPROVIDER_WORKRES": "4", "PATH": "/bin"})
    assert found == [("MOCKPROVIDER_CONTROLTOKEN", "MOCKPROVIDER_CONTROL_TOKEN"),
                     ("MOCKPROVIDER_WORKRES", "MOCKPROVIDER_WORKERS")]


def test_a_variable_nothing_resembles_has_no_suggestion():
    assert unknown_variables({"MOCKPROVIDER_ZZZZZZZZZZZZ": "1"}) == [("MOCKPROVIDER_ZZZZZZZZZZZZ", None)]


def test_every_setting_and_the_client_side_variables_are_known():
    # derived from Settings, so a setting added by anyone is known at once
    environ = {"MOCKPROVIDER_" + f.name.upper(): "x" for f in fields(Settings)}
    environ.update({"MOCKPROVIDER_URL": "http://127.0.0.1:8080"})       # the control CLI's --url
    assert unknown_variables(environ) == []
