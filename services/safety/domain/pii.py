"""PII rules: e-mail, phone numbers, national identity numbers and Luhn-checked payment cards."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from services.safety.domain import checksums, phones
from services.safety.domain.findings import Confidence, FindingType, Match, Rule, Span
from services.safety.domain.lexicon_pii import (
    AT_WORDS,
    CPR_LABELS,
    DOT_WORDS,
    NOT_AN_ID_WORDS,
    PROVIDERS,
    RNOKPP_LABELS,
    STEUER_ID_LABELS,
    TLDS,
)
from services.safety.domain.obfuscation import gated

HIGH, MEDIUM = Confidence.HIGH, Confidence.MEDIUM


def _rule(name: str, subtype: str, confidence: Confidence, reason: str) -> Rule:
    return Rule(f"pii.{name}", FindingType.PII, subtype, confidence, reason)


EMAIL = _rule("email", "email", HIGH, "e-mail address")
CARD = _rule("payment_card", "payment_card", HIGH, "13-19 digit number that passes the Luhn check")
FODSELSNUMMER = _rule(
    "no_fodselsnummer", "national_id", HIGH, "Norwegian fødselsnummer: valid date and both mod-11 check digits"
)
PERSONNUMMER = _rule("se_personnummer", "national_id", HIGH, "Swedish personnummer: valid date and Luhn check digit")
NINO = _rule("uk_nino", "national_id", HIGH, "UK National Insurance number: valid prefix, six digits, suffix A-D")
PESEL = _rule("pl_pesel", "national_id", HIGH, "Polish PESEL: valid date with century month offset and check digit")
ES_DNI = _rule("es_dni", "national_id", HIGH, "Spanish DNI: eight digits and their mod-23 control letter")
ES_NIE = _rule("es_nie", "national_id", HIGH, "Spanish NIE: X/Y/Z, seven digits and the mod-23 control letter")
CPR = _rule(
    "dk_cpr", "national_id", HIGH, "Danish CPR number: valid date for its century digit, written DDMMYY-SSSS or named"
)
STEUER_ID = _rule(
    "de_steuer_id",
    "national_id",
    HIGH,
    "German Steuer-ID: digit-repetition rule and ISO 7064 MOD 11,10 check digit, named or not a reference",
)
RNOKPP = _rule("ua_rnokpp", "national_id", HIGH, "Ukrainian RNOKPP (tax number) named as such, with valid check digit")
SSN_LABELLED = _rule("us_ssn_labelled", "national_id", HIGH, "US Social Security number named as such")
SSN = _rule("us_ssn", "national_id", MEDIUM, "US Social Security number format with a valid area, group and serial")
PHONE_INTERNATIONAL = _rule(
    "phone_international", "phone", HIGH, "phone number with an international prefix (+ or 00) and 8-15 digits"
)
EMAIL_OBFUSCATED = _rule(
    "email_obfuscated", "email", HIGH, "e-mail address with '@' or '.' spelt out or bracketed, ending in a known domain"
)
PHONE_PLANS = {
    plan.country: _rule(
        f"phone_{plan.country.lower()}", "phone", MEDIUM, f"phone number in the {plan.country} national numbering plan"
    )
    for plan in phones.PLANS
}
PHONE_NATIONAL = _rule("phone_national", "phone", MEDIUM, "grouped phone number of 9-12 digits")

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\w-])"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
_FNR = re.compile(r"(?<![\d-])(\d{6}) ?(\d{5})(?![\d-])")
_PERSONNUMMER = re.compile(r"(?<![\d-])(?:(\d{8})[-+]?(\d{4})|(\d{6})[-+](\d{4}))(?![\d-])")
_NINO = re.compile(
    r"(?<![A-Za-z0-9])([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_NINO_EXCLUDED_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
_ELEVEN_DIGITS = re.compile(r"(?<![\d-])\d{11}(?![\d-])")
_DNI = re.compile(r"(?<![\w-])(\d{8})([ -]?)([A-Za-z])(?![\w-])")
_NIE = re.compile(r"(?<![\w-])([XYZxyz])-?(\d{7})([ -]?)([A-Za-z])(?![\w-])")
_CPR = re.compile(r"(?<![\d-])(\d{6})(-?)(\d{4})(?![\d-])")
_STEUER_ID = re.compile(r"(?<![\d-])[1-9]\d ?\d{3} ?\d{3} ?\d{3}(?![\d-])")
_RNOKPP = re.compile(r"(?<![\d-])\d{10}(?![\d-])")


def _label_pattern(labels: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)(?:{'|'.join(re.escape(label) for label in labels)})(?!\w)", re.IGNORECASE)


_CPR_LABEL = _label_pattern(CPR_LABELS)
_STEUER_ID_LABEL = _label_pattern(STEUER_ID_LABELS)
_RNOKPP_LABEL = _label_pattern(RNOKPP_LABELS)
_RNOKPP_LABEL_ANYWHERE = gated(_RNOKPP_LABEL)
_NOT_AN_ID = _label_pattern(NOT_AN_ID_WORDS)
_CURRENCY_BEFORE = re.compile(r"[€$£]\s*$")
_CURRENCY_AFTER = re.compile(r"^\s*(?:kr|nok|sek|dkk|zł|zl|pln|€|eur|euro|usd|\$|£|gbp|грн|uah)(?!\w)", re.IGNORECASE)
_ID_CONTEXT = 40
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])")
_SSN_LABEL = re.compile(r"\b(?:ssn|social security)\b", re.IGNORECASE)
_SSN_BARE_LABELLED = re.compile(
    r"\b(?:ssn|social security)\b\D{0,20}?(?<!\d)((?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4})(?!\d)",
    re.IGNORECASE,
)
_SSN_LAYOUT = re.compile(r"^\d{3}([- ])\d{2}\1\d{4}$")
_PHONE_INTERNATIONAL = re.compile(r"(?<![\w+])(?:\+|(?<!\d)00)\d[\d ()-]{5,22}\d(?!\d)")
_AT_WORD = "|".join(AT_WORDS)
_DOT_WORD = "|".join(DOT_WORDS)
_BRACKETED_AT = rf"\s*[\[({{<]\s*(?:{_AT_WORD}|@)\s*[\])}}>]\s*"
_SPELT_DOT = rf"(?:\s*[\[({{<]\s*(?:{_DOT_WORD})\s*[\])}}>]\s*|\s+(?:{_DOT_WORD})\s+)"
_OBFUSCATED_EMAIL = re.compile(
    rf"(?<![\w.@-])(?P<local>[^\W_][\w.%+-]{{0,63}}(?:{_SPELT_DOT}[\w%+-]{{1,63}})*)"
    rf"(?P<at>{_BRACKETED_AT}|\s+(?:{_AT_WORD})\s+|\s*@\s+|\s+@\s*)"
    rf"(?P<domain>[^\W_][\w-]{{0,62}}(?:(?:\.|{_SPELT_DOT})[^\W_][\w-]{{0,62}}){{0,4}})(?![\w-])",
    re.IGNORECASE,
)
_DOMAIN_SEPARATOR = re.compile(rf"\.|{_SPELT_DOT}", re.IGNORECASE)
_TLDS = frozenset(TLDS)
_PROVIDERS = frozenset(PROVIDERS)
_PHONE_NATIONAL = re.compile(r"(?<![\w+])\(?\d{1,5}\)?[ -]\d{2,5}(?:[ -]\d{2,5}){0,3}(?![\d])")


@dataclass(frozen=True)
class _Detector:
    """A rule, its candidate pattern, and the test that accepts a candidate."""

    rule: Rule
    pattern: re.Pattern[str]
    accept: Callable[[str, re.Match[str]], bool]
    group: int = 0
    # Retry one character later after a refused candidate (spelt-out separators make candidates overlap).
    overlapping: bool = False
    # A scan the text must pass before the pattern is tried (a necessary condition, much cheaper to test).
    precondition: re.Pattern[str] | None = None
    # The fewest digits an accepted match holds: a text with fewer digits is not offered to the pattern.
    min_digits: int = 0


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _accept_fnr(_: str, m: re.Match[str]) -> bool:
    return checksums.fodselsnummer_valid(m.group(1) + m.group(2))


def _accept_personnummer(_: str, m: re.Match[str]) -> bool:
    return checksums.personnummer_valid(_digits(m.group(0)))


def _labelled(text: str, start: int, label: re.Pattern[str]) -> bool:
    return label.search(text, max(0, start - _ID_CONTEXT), start) is not None


def _not_an_id(text: str, m: re.Match[str]) -> bool:
    """A reference or an amount: an order/invoice/account word shortly before, or a currency beside the number."""
    start = m.start()
    return (
        _NOT_AN_ID.search(text, max(0, start - _ID_CONTEXT), start) is not None
        or phones.referenced(text, start)
        or _amount(text, m)
    )


def _amount(text: str, m: re.Match[str]) -> bool:
    """A currency sign or code right before or after the number: "€ 86095742719", "47 110 123 567 EUR"."""
    start, end = m.start(), m.end()
    return (
        _CURRENCY_BEFORE.search(text, max(0, start - 3), start) is not None
        or _CURRENCY_AFTER.match(text[end : end + 8]) is not None
    )


def _accept_pesel(text: str, m: re.Match[str]) -> bool:
    return checksums.pesel_valid(m.group(0)) and not _not_an_id(text, m)


def _accept_dni(text: str, m: re.Match[str]) -> bool:
    # "12345678 a las ..." is not a DNI: a control letter set apart by a space must be a capital.
    number, separator, letter = m.group(1), m.group(2), m.group(3)
    if separator == " " and not letter.isupper():
        return False
    return checksums.dni_valid(number, letter) and not _not_an_id(text, m)


def _accept_nie(text: str, m: re.Match[str]) -> bool:
    prefix, number, separator, letter = m.group(1), m.group(2), m.group(3), m.group(4)
    if separator == " " and not letter.isupper():
        return False
    return checksums.nie_valid(prefix, number, letter) and not _not_an_id(text, m)


def _accept_cpr(text: str, m: re.Match[str]) -> bool:
    # Modern CPR numbers have no check digit, so a bare ten-digit number with a date in front (an order or
    # account number) would pass: only the written form DDMMYY-SSSS, or a CPR label shortly before, counts.
    if not checksums.cpr_date_valid(m.group(1) + m.group(3)) or _not_an_id(text, m):
        return False
    return m.group(2) == "-" or _labelled(text, m.start(), _CPR_LABEL)


def _accept_steuer_id(text: str, m: re.Match[str]) -> bool:
    # Unnamed, only the unbroken eleven digits: grouped digits ("47 110 123 567") are more often a phone.
    if not checksums.steuer_id_valid(_digits(m.group(0))):
        return False
    if _labelled(text, m.start(), _STEUER_ID_LABEL):
        return True
    return m.group(0).isdigit() and not _not_an_id(text, m)


def _accept_rnokpp(text: str, m: re.Match[str]) -> bool:
    # Ten-digit numbers are common (phones, orders, accounts): only a named tax number is taken.
    return _labelled(text, m.start(), _RNOKPP_LABEL) and checksums.rnokpp_valid(m.group(0))


def _accept_nino(_: str, m: re.Match[str]) -> bool:
    return m.group(1).upper() not in _NINO_EXCLUDED_PREFIXES


def _ssn_labelled(text: str, m: re.Match[str]) -> bool:
    return _SSN_LABEL.search(text[max(0, m.start() - 30) : m.start()]) is not None


def _accept_phone_international(_: str, m: re.Match[str]) -> bool:
    digits = _digits(m.group(0))
    digits = digits[2:] if m.group(0).startswith("00") else digits
    return 8 <= len(digits) <= 15 and _balanced(m.group(0))


def _accept_phone_national(text: str, m: re.Match[str]) -> bool:
    # The SSN layout (AAA-GG-SSSS) is never a phone number, even where the SSN rule refused it. Nor is a run of
    # three or more groups of four digits ("4412 9087 3312"): no listed national plan writes numbers so (the
    # German mobile layout "0151 2345 6789" is claimed by its own plan first), order and card numbers do.
    # A number with a currency beside it is an amount ("47 110 123 567 EUR").
    candidate = m.group(0)
    return (
        9 <= len(_digits(candidate)) <= 12
        and _balanced(candidate)
        and not _SSN_LAYOUT.match(candidate)
        and not _FOUR_DIGIT_GROUPS.match(candidate)
        and not phones.referenced(text, m.start())
        and not _amount(text, m)
    )


_FOUR_DIGIT_GROUPS = re.compile(r"^\d{4}(?:[ -]\d{4}){2,}$")


def _accept_obfuscated_email(_: str, m: re.Match[str]) -> bool:
    """Ends in a known top-level domain and shows some sign of being an address, not prose ("I work at nav.no")."""
    labels = [label.lower() for label in _DOMAIN_SEPARATOR.split(m.group("domain"))]
    if len(labels) < 2 or not (labels[-1] in _TLDS or ".".join(labels[-2:]) in _TLDS):
        return False
    local, at, domain = m.group("local"), m.group("at"), m.group("domain")
    return bool(
        at.strip().startswith(("[", "(", "{", "<", "@"))
        or _DOMAIN_SEPARATOR.search(local)
        or any(ch.isdigit() or ch in "._%+-" for ch in local)
        or _SPELT_DOT_ONLY.search(domain)
        or labels[0] in _PROVIDERS
    )


_SPELT_DOT_ONLY = re.compile(_SPELT_DOT, re.IGNORECASE)
# What every accepted obfuscated address contains: a dot (plain or spelt out) and a known top-level domain
# after it. A cheap scan that spares the full pattern on texts without one.
_ENDS_IN_TLD = gated(
    re.compile(
        rf"(?:\.|{_SPELT_DOT})(?:{'|'.join(sorted({t.rsplit('.', 1)[-1] for t in TLDS}))})(?![\w-])", re.IGNORECASE
    )
)
_DIGIT = re.compile(r"\d")


def _accept_phone_plan(text: str, m: re.Match[str]) -> bool:
    return phones.plausible(text, m.start(), m.end())


def _balanced(candidate: str) -> bool:
    return candidate.count("(") == candidate.count(")") <= 1


def _always(_: str, __: re.Match[str]) -> bool:
    return True


# Most specific first: a span claimed by an earlier detector is not offered to later ones.
DETECTORS: tuple[_Detector, ...] = (
    _Detector(EMAIL, _EMAIL, _always),
    _Detector(
        EMAIL_OBFUSCATED, _OBFUSCATED_EMAIL, _accept_obfuscated_email, overlapping=True, precondition=_ENDS_IN_TLD
    ),
    _Detector(CARD, _CARD, lambda _, m: checksums.is_card_number(_digits(m.group(0))), min_digits=13),
    _Detector(FODSELSNUMMER, _FNR, _accept_fnr, min_digits=11),
    _Detector(PERSONNUMMER, _PERSONNUMMER, _accept_personnummer, min_digits=10),
    _Detector(PESEL, _ELEVEN_DIGITS, _accept_pesel, min_digits=11),
    _Detector(STEUER_ID, _STEUER_ID, _accept_steuer_id, min_digits=11),
    _Detector(CPR, _CPR, _accept_cpr, min_digits=10),
    _Detector(RNOKPP, _RNOKPP, _accept_rnokpp, precondition=_RNOKPP_LABEL_ANYWHERE, min_digits=10),
    _Detector(ES_DNI, _DNI, _accept_dni, min_digits=8),
    _Detector(ES_NIE, _NIE, _accept_nie, min_digits=7),
    _Detector(NINO, _NINO, _accept_nino, min_digits=6),
    _Detector(SSN_LABELLED, _SSN_BARE_LABELLED, _always, group=1, min_digits=9),
    _Detector(SSN_LABELLED, _SSN, _ssn_labelled, min_digits=9),
    _Detector(SSN, _SSN, _always, min_digits=9),
    _Detector(PHONE_INTERNATIONAL, _PHONE_INTERNATIONAL, _accept_phone_international, min_digits=8),
    # Every national plan has at least eight digits (Norway and Denmark; the others nine or ten).
    *(_Detector(PHONE_PLANS[plan.country], plan.pattern, _accept_phone_plan, min_digits=8) for plan in phones.PLANS),
    _Detector(PHONE_NATIONAL, _PHONE_NATIONAL, _accept_phone_national, min_digits=9),
)

# E-mail addresses are the only PII written without a digit.
_WITHOUT_DIGITS = tuple(d for d in DETECTORS if d.rule.subtype == "email")


def find_pii(text: str) -> list[Match]:
    """Every PII match, without overlaps (the more specific rule wins)."""
    claimed: list[Span] = []
    matches: list[Match] = []
    digits = len(_DIGIT.findall(text)) if _DIGIT.search(text) else 0
    for detector in DETECTORS if digits else _WITHOUT_DIGITS:
        if digits < detector.min_digits:
            continue
        if detector.precondition is not None and detector.precondition.search(text) is None:
            continue
        for span in _candidates(text, detector):
            if not any(span.start < other.end and other.start < span.end for other in claimed):
                claimed.append(span)
                matches.append(Match(detector.rule, span))
    return matches


def _candidates(text: str, detector: _Detector) -> Iterator[Span]:
    position = 0
    while (m := detector.pattern.search(text, position)) is not None:
        if detector.accept(text, m):
            start, end = m.span(detector.group)
            yield Span(start, end, text[start:end])
            position = max(m.end(), m.start() + 1)
        else:
            position = m.start() + 1 if detector.overlapping else max(m.end(), m.start() + 1)
