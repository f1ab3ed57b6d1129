"""National phone numbers (NO, SE, DK, UK, US, UA, PL, DE, ES): each plan's layout and its valid leading digits.

A national number is only accepted where its grouping and leading digits fit the country's plan;
amounts, years and references are left alone by refusing numbers next to currency words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Not part of a longer run of digit groups (a card, an id, a list of numbers).
_BEFORE = r"(?<![\w+.,/-])(?<!\d[ .,/-])"
_AFTER = r"(?![ .,/-]?\d|\w)"
_MONEY = r"(?:kr|nok|sek|dkk|usd|eur|gbp|uah|pln|zł|zl|€|\$|£|euro|kroner|kronor|dollars?|hryvnia|złotych|грн)"
_MONEY_BEFORE = re.compile(_MONEY + r"\.?\s*$", re.IGNORECASE)
_MONEY_AFTER = re.compile(r"^\s*(?:" + _MONEY + r"|,-)", re.IGNORECASE)
# Words that say an unbroken run of digits is a phone number.
_PHONE_WORDS = re.compile(
    r"(?:phone|call|ring|text|sms|whatsapp|viber|telegram|tlf|tel|telefon|mobil|mobile|handy|телефон|هاتف|"
    r"(?:my|mitt|min|mit|mein|meine|mi|mój|мій|رقمي)\s+(?:number|nummer|numer|numero|número|номер))"
    r"\W{0,12}(?:\w+\W{1,3}){0,3}$",
    re.IGNORECASE,
)


# Words that say a number is a reference, not a phone: "Order 4412 9087 3312", "Fakturanr 20241188",
# "Bestellnummer 4839 2210 5567", "номер замовлення ...". Compounds count ("ordrenummer", "referensnummer").
_REFERENCE_WORDS = re.compile(
    r"\b(?:order|orders|invoice|inv|ref|reference|booking|tracking|confirmation|case|ticket|receipt|account|customer|"
    r"ordre|ordrenr|ordrenummer|bestilling|faktura|fakturanr|fakturanummer|referanse|referansenummer|kundenummer|"
    r"sak|saksnummer|sag|sagsnummer|referens|referensnummer|ärende|ärendenummer|kundnummer|bokning|"
    r"bestellung|bestellnummer|rechnung|rechnungsnummer|auftrag|auftragsnummer|kundennummer|buchung|"
    r"pedido|factura|referencia|reserva|localizador|zamówienie|zamówienia|zamowienie|zamowienia|faktury|"
    r"rezerwacja|rezerwacji|замовлення|рахунок|рахунку|накладна|посилка|بوليصة|الطلب|طلب|فاتورة|مرجع|الحجز)"
    r"\W{0,3}(?:(?:no|nr|num|number|nummer|numer|número|numero|номер|رقم|id|#)\b\W{0,3})?$",
    re.IGNORECASE,
)
# "Number 5521 ..." after one of those words, with the number word first ("numer zamówienia", "رقم الطلب").
_REFERENCE_NUMBER_FIRST = re.compile(
    r"\b(?:numer|номер|رقم|número|numero)\s+(?:zamówienia|zamowienia|faktury|замовлення|рахунку|الطلب|الفاتورة|"
    r"del\s+pedido|de\s+pedido|de\s+factura)\W{0,3}$",
    re.IGNORECASE,
)


def referenced(text: str, start: int) -> bool:
    """Whether a reference word (order, invoice, booking ... in the platform languages) names the number at `start`."""
    before = text[max(0, start - 30) : start]
    return _REFERENCE_WORDS.search(before) is not None or _REFERENCE_NUMBER_FIRST.search(before) is not None


@dataclass(frozen=True)
class Plan:
    """A country's national phone layout: its pattern (digits grouped as people write them)."""

    country: str
    pattern: re.Pattern[str]


def _plan(country: str, body: str) -> Plan:
    return Plan(country, re.compile(_BEFORE + body + _AFTER))


PLANS: tuple[Plan, ...] = (
    # Norway: 8 digits, mobiles 4xx/9xx, written 3-2-3 ("912 34 567") or 2-2-2-2, or unbroken.
    _plan("NO", r"[49]\d{7}|[49]\d\d[ .-]\d\d[ .-]\d{3}|[49]\d[ .-]\d\d[ .-]\d\d[ .-]\d\d"),
    # Sweden: mobiles 07x, written 07x-xxx xx xx.
    _plan("SE", r"07[02369]-?\s?\d{3}\s?\d\d\s?\d\d"),
    # Denmark: 8 digits in pairs, first digit 2-9 ("20 12 34 56").
    _plan("DK", r"[2-9]\d \d\d \d\d \d\d"),
    # Germany: mobiles 015x/016x/017x followed by 7-8 digits.
    _plan("DE", r"01[567]\d[\s/-]?\d{3,4}[\s-]?\d{3,4}"),
    # UK: mobiles 07xxx xxxxxx; London and geographic numbers 01/02 with 10-11 digits.
    _plan("UK", r"07\d{3}\s?\d{3}\s?\d{3}|0[12]\d{2,3}\s\d{3,4}\s?\d{3,4}"),
    # US/NANP: (NXX) NXX-XXXX or NXX-NXX-XXXX, N = 2-9.
    _plan("US", r"\([2-9]\d\d\)\s?[2-9]\d\d[-.\s]\d{4}|[2-9]\d\d[-.][2-9]\d\d[-.]\d{4}"),
    # Ukraine: 0XX XXX XX XX with a mobile operator code.
    _plan("UA", r"0(?:39|50|63|66|67|68|73|91|92|93|94|95|96|97|98|99)\s?\d{3}[\s-]?\d\d[\s-]?\d\d"),
    # Poland: 9 digits, mobiles 45x/5xx/6xx/7xx/8xx, written 3-3-3.
    _plan("PL", r"(?:45|5\d|6\d|7[2-9]|8[0-8])\d \d{3} \d{3}"),
    # Spain: 9 digits, mobiles 6xx/7xx, written 3-3-3 or 3-2-2-2.
    _plan("ES", r"[67]\d\d \d\d \d\d \d\d|[67]\d\d \d{3} \d{3}"),
)


def plausible(text: str, start: int, end: int) -> bool:
    """Not an amount (no currency word next to it) nor a reference (order, invoice, booking number); an unbroken run
    of digits also needs a phone word before it."""
    if referenced(text, start):
        return False
    if _MONEY_BEFORE.search(text[max(0, start - 12) : start]) or _MONEY_AFTER.search(text[end : end + 12]):
        return False
    if text[start:end].isdigit():
        return _PHONE_WORDS.search(text[max(0, start - 40) : start]) is not None
    return True
