"""National identity numbers of Poland, Spain, Denmark, Germany and Ukraine: validation, context and redaction.

Every "valid" number below is a published specimen or was computed by hand from the check-digit rule; none
belongs to a real person as far as its construction goes.
"""

from __future__ import annotations

import pytest

from services.safety.domain import checksums
from services.safety.domain.pii import find_pii
from services.safety.domain.screening import screen


def _rules(text: str) -> list[tuple[str, str]]:
    return [(m.rule.name, m.span.text) for m in find_pii(text)]


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("44051401359", True),  # 14 May 1944; weighted sum 151 -> check 9
        ("02270803624", True),  # month 27: July 2002; weighted sum 146 -> check 4
        ("44051401358", False),  # wrong check digit
        ("44133101357", False),  # month 13 belongs to no century
        ("02223003620", False),  # 30 February 2002
        ("4405140135", False),  # ten digits
    ],
)
def test_pesel_checks_date_with_century_offset_and_check_digit(digits: str, valid: bool) -> None:
    assert checksums.pesel_valid(digits) is valid


@pytest.mark.parametrize(
    ("number", "letter", "valid"),
    [("12345678", "Z", True), ("12345678", "z", True), ("12345678", "A", False), ("00000000", "T", True)],
)
def test_dni_letter_is_the_value_mod_23(number: str, letter: str, valid: bool) -> None:
    assert checksums.dni_valid(number, letter) is valid


@pytest.mark.parametrize(
    ("prefix", "number", "letter", "valid"),
    [
        ("X", "1234567", "L", True),
        ("Y", "1234567", "X", True),
        ("X", "1234567", "X", False),
        ("W", "1234567", "L", False),
    ],
)
def test_nie_reads_its_prefix_as_a_leading_digit(prefix: str, number: str, letter: str, valid: bool) -> None:
    assert checksums.nie_valid(prefix, number, letter) is valid


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("0101901234", True),
        ("2902004321", True),  # seventh digit 4, year 00: 29 February 2000, a leap year
        ("2902001234", False),  # seventh digit 1, year 00: 1900, not a leap year
        ("3204901234", False),  # 32 April
        ("010190123", False),
    ],
)
def test_cpr_date_follows_the_century_digit(digits: str, valid: bool) -> None:
    assert checksums.cpr_date_valid(digits) is valid


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("86095742719", True),  # the tax office's specimen: one digit twice
        ("65929970489", True),  # one digit three times, not three in a row
        ("86095742718", False),  # wrong check digit
        ("06095742719", False),  # leading zero
        ("12345678903", False),  # every digit once: no repeated digit
        ("11123456784", False),  # three in a row
        ("11223456789", False),  # two digits repeated
    ],
)
def test_steuer_id_checks_repetition_and_iso_7064_digit(digits: str, valid: bool) -> None:
    assert checksums.steuer_id_valid(digits) is valid


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        # -1*3 + 5*1 + 7*8 + 9*4 + 4*7 + 6*1 + 10*0 + 5*6 + 7*9 = 221; 221 mod 11 = 1 -> check 1
        ("3184710691", True),
        ("3184710692", False),
        ("0000000000", False),
        ("318471069", False),
    ],
)
def test_rnokpp_check_digit_uses_the_official_weights(digits: str, valid: bool) -> None:
    assert checksums.rnokpp_valid(digits) is valid


@pytest.mark.parametrize(
    ("text", "rule", "span"),
    [
        ("Mój PESEL to 44051401359, proszę o kontakt", "pii.pl_pesel", "44051401359"),
        ("numer PESEL dziecka: 02270803624", "pii.pl_pesel", "02270803624"),
        ("mi DNI es 12345678Z", "pii.es_dni", "12345678Z"),
        ("DNI 12345678-Z para la inscripción", "pii.es_dni", "12345678-Z"),
        ("dni 12345678z", "pii.es_dni", "12345678z"),
        ("tengo NIE X1234567L desde marzo", "pii.es_nie", "X1234567L"),
        ("NIE: Y-1234567-X", "pii.es_nie", "Y-1234567-X"),
        ("mit CPR-nummer er 010190-1234", "pii.dk_cpr", "010190-1234"),
        ("cpr 0101901234", "pii.dk_cpr", "0101901234"),
        ("personnummer: 3112991234", "pii.dk_cpr", "3112991234"),
        ("hun er født 010190-1234", "pii.dk_cpr", "010190-1234"),
        ("Meine Steuer-ID ist 86 095 742 719", "pii.de_steuer_id", "86 095 742 719"),
        ("steuerliche Identifikationsnummer 65929970489", "pii.de_steuer_id", "65929970489"),
        ("bitte 86095742719 eintragen", "pii.de_steuer_id", "86095742719"),
        ("мій РНОКПП 3184710691", "pii.ua_rnokpp", "3184710691"),
        ("ІПН: 3184710691", "pii.ua_rnokpp", "3184710691"),
        ("ідентифікаційний код 3184710691, паспорт вдома", "pii.ua_rnokpp", "3184710691"),
        ("my Ukrainian tax number is 3184710691", "pii.ua_rnokpp", "3184710691"),
    ],
)
def test_valid_ids_are_found_by_their_own_rule(text: str, rule: str, span: str) -> None:
    assert _rules(text) == [(rule, span)]


@pytest.mark.parametrize(
    "text",
    [
        # wrong check digits or letters, impossible dates
        "Mój PESEL to 44051401358",
        "mi DNI es 12345678A",
        "tengo NIE X1234567X",
        "CPR 3204901234",
        "CPR 320490-1234",
        "Steuer-ID 86095742718",
        "РНОКПП 3184710692",
        # the same digits as an order, invoice, reference, account or amount
        "zamówienie 44051401359 zostało wysłane",
        "numer zamówienia: 44051401359",
        "pedido 12345678Z enviado",
        "factura 12345678-Z",
        "ordre 010190-1234 er sendt",
        "ordrenummer 0101901234",
        "Rechnungsnummer 86095742719",
        "Bestellung 86 095 742 719 ist unterwegs",
        "Betrag: 86095742719 EUR",
        "€ 86095742719",
        "order reference 86095742719",
        # an unnamed Steuer-ID only counts unbroken: grouped digits are more often a phone
        "bitte 86 095 742 719 eintragen",
        # a plain ten-digit number without a CPR or tax-number label
        "call me on 0101901234",
        "0101901234 is my order",
        "3184710691",
        "номер замовлення 3184710691",
        # a control letter set apart as a word is not a control letter
        "llamé al 12345678 a las diez",
        # dates and times are not ids
        "born 01.01.1990 at 12:34",
    ],
)
def test_invalid_or_non_id_numbers_are_not_found(text: str) -> None:
    assert [
        rule for rule, _ in _rules(text) if rule.startswith(("pii.pl_", "pii.es_", "pii.dk_", "pii.de_", "pii.ua_"))
    ] == []


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("PESEL 44051401359.", "PESEL [NATIONAL_ID]."),
        ("DNI 12345678Z y NIE X1234567L", "DNI [NATIONAL_ID] y NIE [NATIONAL_ID]"),
        ("CPR 010190-1234", "CPR [NATIONAL_ID]"),
        ("Steuer-ID 86 095 742 719", "Steuer-ID [NATIONAL_ID]"),
        ("РНОКПП 3184710691", "РНОКПП [NATIONAL_ID]"),
    ],
)
def test_found_ids_are_redacted_in_stored_text(text: str, redacted: str) -> None:
    result = screen(text)
    assert result.redacted_text == redacted
    assert {f.subtype for f in result.findings} == {"national_id"}


@pytest.mark.parametrize("text", ["der Umsatz lag bei 47 110 123 567 EUR", "kosztował € 412 345 678", "412 345 678 zł"])
def test_grouped_digits_beside_a_currency_are_an_amount_not_a_phone(text: str) -> None:
    assert find_pii(text) == []


def test_grouped_digits_without_a_currency_are_still_a_phone() -> None:
    assert [rule for rule, _ in _rules("ring meg på 47 110 123 567")] == ["pii.phone_national"]
