"""NHS numbers: format and Modulus 11 check digit."""
from __future__ import annotations


def check_digit(first_nine: str) -> int | None:
    """The Mod-11 check digit for nine digits, or None when no valid number can end them."""
    total = sum(int(d) * (10 - i) for i, d in enumerate(first_nine))
    digit = 11 - total % 11
    if digit == 11:
        return 0
    if digit == 10:
        return None
    return digit


def is_valid(value) -> bool:
    if not isinstance(value, str) or len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    return check_digit(value[:9]) == int(value[9])
