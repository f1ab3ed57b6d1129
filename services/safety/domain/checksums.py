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


def _real_date(year: int, month: int, day: int) -> bool:
    """A date that exists in the given year (29 February only in leap years)."""
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    last = 29 if month == 2 and leap else (28 if month == 2 else _DAYS_IN_MONTH[month - 1])
    return 1 <= day <= last


_PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
# PESEL month offsets by century: 1800s +80, 1900s +0, 2000s +20, 2100s +40, 2200s +60.
_PESEL_CENTURIES = {0: 1900, 1: 2000, 2: 2100, 3: 2200, 4: 1800}


def pesel_valid(digits: str) -> bool:
    """Polish PESEL: YYMMDD (month carries the century), four serial digits and a weighted mod-10 check digit."""
    if len(digits) != 11 or not digits.isdigit():
        return False
    year, month, day = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    century = _PESEL_CENTURIES.get(month // 20)
    if century is None or not _real_date(century + year, month % 20, day):
        return False
    check = (10 - sum(int(d) * w for d, w in zip(digits, _PESEL_WEIGHTS, strict=False)) % 10) % 10
    return check == int(digits[10])


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_valid(number: str, letter: str) -> bool:
    """Spanish DNI: eight digits and the control letter of their value mod 23."""
    return len(number) == 8 and number.isdigit() and _DNI_LETTERS[int(number) % 23] == letter.upper()


def nie_valid(prefix: str, number: str, letter: str) -> bool:
    """Spanish NIE: X, Y or Z (read as 0, 1, 2) and seven digits, then the DNI control letter of that value."""
    lead = "XYZ".find(prefix.upper())
    return lead >= 0 and len(number) == 7 and number.isdigit() and dni_valid(f"{lead}{number}", letter)


def cpr_date_valid(digits: str) -> bool:
    """Danish CPR: DDMMYY whose century follows from the seventh digit, and which exists in that year.

    CPR numbers issued since 2007 need not pass the old mod-11 test, so no check digit is tested here.
    """
    if len(digits) != 10 or not digits.isdigit():
        return False
    day, month, year, seventh = int(digits[0:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6])
    if seventh <= 3:
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if year <= 36 else 1900
    else:
        century = 2000 if year <= 57 else 1800
    return _real_date(century + year, month, day)


def steuer_id_valid(digits: str) -> bool:
    """German Steuer-ID: 11 digits, no leading 0, one digit of the first ten repeated (twice, or three times
    but not three in a row) and all others once, and the ISO 7064 MOD 11,10 check digit."""
    if len(digits) != 11 or not digits.isdigit() or digits[0] == "0":
        return False
    body = digits[:10]
    counts = sorted((body.count(d) for d in set(body)), reverse=True)
    if counts[0] not in (2, 3) or counts[1] != 1:
        return False
    if counts[0] == 3 and any(body[i] == body[i + 1] == body[i + 2] for i in range(8)):
        return False
    product = 10
    for char in body:
        total = (int(char) + product) % 10 or 10
        product = total * 2 % 11
    check = 11 - product
    return (0 if check == 10 else check) == int(digits[10])


_RNOKPP_WEIGHTS = (-1, 5, 7, 9, 4, 6, 10, 5, 7)


def rnokpp_valid(digits: str) -> bool:
    """Ukrainian RNOKPP (individual tax number): ten digits, the last (weighted sum mod 11) mod 10."""
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    total = sum(int(d) * w for d, w in zip(digits, _RNOKPP_WEIGHTS, strict=False))
    return total % 11 % 10 == int(digits[9])
