"""Spelled-out e-mail separators and national phone plans (data only; the matching lives in pii.py and phones.py)."""

from __future__ import annotations

# Words people write instead of "@" and "." to dodge filters, in the platform languages.
AT_WORDS: tuple[str, ...] = ("at", "snabel-a", "snabela", "krøllalfa", "alfakrøll", "arroba", "małpa", "собака", "ät")
DOT_WORDS: tuple[str, ...] = ("dot", "punkt", "prikk", "punto", "kropka", "крапка", "точка", "nokta")

# Top-level domains an obfuscated address must end in (a spelled-out "at" is otherwise ordinary prose).
TLDS: tuple[str, ...] = (
    "com", "net", "org", "info", "io", "me", "edu", "gov", "biz",
    "no", "se", "dk", "uk", "co.uk", "us", "ua", "com.ua", "pl", "de", "es", "eu", "fi", "nl", "fr", "it",
)  # fmt: skip

# Mail providers: "name at gmail" is an address even without the top-level domain.
PROVIDERS: tuple[str, ...] = (
    "gmail", "hotmail", "outlook", "yahoo", "icloud", "live", "proton", "protonmail", "online",
    "ukr", "wp", "onet", "interia", "gmx", "web", "t-online",
)  # fmt: skip

# Words that name a national identity number; the matching stems are tested case-insensitively before the number.
CPR_LABELS: tuple[str, ...] = ("cpr", "cpr-nr", "cpr-nummer", "personnummer", "personnr")
STEUER_ID_LABELS: tuple[str, ...] = (
    "steuer-id", "steuerid", "steuer-identifikationsnummer", "steueridentifikationsnummer", "steuer-idnr",
    "steuerliche identifikationsnummer", "identifikationsnummer", "idnr", "tin", "tax id", "tax number",
)  # fmt: skip
RNOKPP_LABELS: tuple[str, ...] = (
    "рнокпп", "іпн", "ипн", "інн", "инн", "ідентифікаційний код", "ідентифікаційний номер", "податковий номер",
    "податковий код", "rnokpp", "ipn", "tax id", "tax number", "taxpayer number",
)  # fmt: skip
# Words that say the number next to them is a reference or an amount, not a person's id (besides the
# order/invoice words phone numbers use).
NOT_AN_ID_WORDS: tuple[str, ...] = (
    "order", "invoice", "ref", "reference", "booking", "tracking", "ticket", "receipt", "account", "customer",
    "ordre", "faktura", "referanse", "kunde", "bestilling", "sag", "sak", "ärende", "referens",
    "bestellung", "bestellnummer", "rechnung", "rechnungsnummer", "auftrag", "kundennummer", "buchung", "sendung",
    "pedido", "factura", "referencia", "reserva", "zamówienie", "zamówienia", "numer zamówienia",
    "замовлення", "рахунок", "накладна", "посилка", "iban", "konto", "kontonummer", "serial", "serienummer",
)  # fmt: skip
