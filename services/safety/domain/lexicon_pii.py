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
