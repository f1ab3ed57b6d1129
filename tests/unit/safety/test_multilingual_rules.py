"""Obfuscated e-mails, national phone numbers, threats, hate, harassment, scams and non-English profanity."""

from __future__ import annotations

import pytest

from services.safety.domain.findings import FindingType
from services.safety.domain.screening import screen


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("mail me: ahmed dot k at gmail dot com", "mail me: [EMAIL]"),
        ("fatima.h[at]hotmail.no thanks", "[EMAIL] thanks"),
        ("maria.s (at) online (dot) no", "[EMAIL]"),
        ("skriv til ola.n snabel-a firma punkt se", "skriv til [EMAIL]"),
        ("ring meg på 912 34 567", "ring meg på [PHONE]"),
        ("mitt nummer er 91234567", "mitt nummer er [PHONE]"),
        ("ring mig på 070-123 45 67", "ring mig på [PHONE]"),
        ("ring 20 12 34 56", "ring [PHONE]"),
        ("call 07700 900123", "call [PHONE]"),
        ("call 212-555-0182", "call [PHONE]"),
        ("тел 067 123 45 67", "тел [PHONE]"),
        ("zadzwoń 512 345 678", "zadzwoń [PHONE]"),
        ("Handy 0151 23456789", "Handy [PHONE]"),
        ("llámame 612 34 56 78", "llámame [PHONE]"),
    ],
)
def test_obfuscated_emails_and_national_phones_are_redacted(text: str, redacted: str) -> None:
    assert screen(text).redacted_text == redacted


@pytest.mark.parametrize(
    ("text", "subtype"),
    [
        ("I know where you live", "threat"),
        ("I'm going to hurt you", "threat"),
        ("Jeg skal drepe deg", "threat"),
        ("Jag vet var du bor", "threat"),
        ("Ich bring dich um", "threat"),
        ("Te voy a matar", "threat"),
        ("Zabiję cię", "threat"),
        ("Я тебе вб'ю", "threat"),
        ("سأقتلك", "threat"),
        ("Immigrants should be deported", "hate"),
        ("Refugees are vermin", "hate"),
        ("Muslims dont belong here", "hate"),
        ("Invandrarna borde kastas ut", "hate"),
        ("Flüchtlinge sind Ungeziefer", "hate"),
        ("Dra hjem til ditt eget land", "hate"),
        ("Nobody wants you here", "insult"),
        ("Du er så verdiløs", "insult"),
    ],
)
def test_threats_hate_and_harassment_without_slurs_are_toxic(text: str, subtype: str) -> None:
    toxic = [f for f in screen(text).findings if f.type is FindingType.TOXIC]
    assert {f.subtype for f in toxic} == {subtype}


@pytest.mark.parametrize(
    "text",
    [
        "Earn $500 a day from home, visit https://quick-cash.example.com",
        "Tjen 5000 kr om dagen! https://bit.ly/xyz",
        "Gana 300 € al día desde casa",
        "Invest with us, DM me on telegram",
    ],
)
def test_scams_with_links_and_money_are_spam(text: str) -> None:
    assert any(f.type is FindingType.SPAM and f.subtype == "scam" for f in screen(text).findings)


@pytest.mark.parametrize("text", ["Faen, for en dag", "Jävla skit", "Kurwa, znowu", "Das ist Scheiße", "сука"])
def test_non_english_profanity_is_found(text: str) -> None:
    assert any(f.type is FindingType.PROFANITY for f in screen(text).findings)
