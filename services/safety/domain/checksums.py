"""Check-digit and date tests that tell real identity and card numbers from random digits."""

from __future__ import annotations

_FNR_WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_FNR_WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment cards and Swedish personnummer."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """13-19 digits passing Luhn; a run of one repeated digit is a placeholder, not a card."""
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits)


def plausible_date(day: int, month: int) -> bool:
    """A day that exists in some year (29 February included)."""
    return 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]


def _mod11_check(digits: str, weights: tuple[int, ...]) -> int | None:
    remainder = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11
    if remainder == 11:
        return 0
    return None if remainder == 10 else remainder


def fodselsnummer_valid(digits: str) -> bool:
    """Norwegian fødselsnummer (also D- and H-numbers): DDMMYY + individual number + two mod-11 digits."""
    if len(digits) != 11 or not digits.isdigit():
        return False
    day, month = int(digits[0:2]), int(digits[2:4])
    day = day - 40 if day > 40 else day  # D-number
    month = month - 40 if 40 < month <= 52 else month  # H-number
    if not plausible_date(day, month):
        return False
    return _mod11_check(digits[:9], _FNR_WEIGHTS_1) == int(digits[9]) and _mod11_check(
        digits[:10], _FNR_WEIGHTS_2
    ) == int(digits[10])


def personnummer_valid(digits: str) -> bool:
    """Swedish personnummer (or samordningsnummer): [CC]YYMMDD + 3 digits + Luhn check digit."""
    if len(digits) == 12:
        if digits[:2] not in {"18", "19", "20"}:
            return False
        digits = digits[2:]
    if len(digits) != 10 or not digits.isdigit():
        return False
    month, day = int(digits[2:4]), int(digits[4:6])
    day = day - 60 if day > 60 else day  # samordningsnummer
    return plausible_date(day, month) and luhn_valid(digits)
