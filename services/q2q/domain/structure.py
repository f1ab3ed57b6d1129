"""The rules the trained model defers to: "used to … now" changes and the writer's own feelings, in nine languages.

A bag of words cannot tell "I used to be shy, now I ask the questions" from "I am shy", nor a volunteer's
"I'm a bit worried about her" from a participant's worry. These patterns find the structure; the
classifier (`trained_classifier.py`) re-scores the parts of the text they delimit.
"""

from __future__ import annotations

import re

_FLAGS = re.IGNORECASE | re.UNICODE
# An earlier state: "used to", "at first", "before" and their equivalents (en nb sv da de pl es uk ar).
_PAST = re.compile(
    r"\b(?:used to|at first|in the beginning|at the (?:beginning|start)|back then|previously|before|"
    r"(?:a|one|half a) year ago|when i (?:arrived|came|started)|last (?:year|autumn|spring|winter|summer)|"
    r"for (?:et|ett) år siden|för (?:ett|ett halvt) år sedan|vor einem (?:halben )?jahr|"
    r"rok temu|pół roku temu|hace (?:un|medio) año|рік тому|пів року тому|"
    r"før|tidligere|i (?:begynnelsen|starten|begyndelsen)|pleide|plejede|da jeg kom|"
    r"förut|förr|i början|brukade|när jag kom|"
    r"früher|anfangs|am anfang|zuerst|vorher|damals|als ich (?:kam|ankam)|"
    r"kiedyś|na początku|wcześniej|dawniej|przedtem|"
    r"antes|al (?:principio|comienzo)|solía|solia|cuando llegué|"
    r"раніше|спочатку|колись|на початку)\b|(?:^|\s)[وف]?(?:كنت|في البداية|سابقا|سابقاً|من قبل)",
    _FLAGS,
)
# The present that replaces it: "now", "today", "these days".
_NOW = re.compile(
    r"\b(?:now|nowadays|these days|today|nå|i dag|idag|nu|numera|efterhånden|jetzt|heute|inzwischen|"
    r"mittlerweile|nun|teraz|dziś|dzisiaj|obecnie|ahora|hoy|actualmente|тепер|зараз|сьогодні|нині)\b|"
    r"(?:^|\s)[وف]?(?:الآن|الان|اليوم|حاليا|صرت|أصبحت)",
    _FLAGS,
)
# "But" after the earlier state: where the present begins when its "now" is misspelt or left out
# (\u0430 is the Ukrainian "but").
_BUT = re.compile(
    r"\b(?:but|men|aber|ale|pero|\u0430|але|проте)\b|(?:^|\s)(?:لكن|لكنني|بس)(?=\s|$)",
    _FLAGS,
)
# The writer's own worry or nerves about the participant ("I'm a bit worried about her", "nervous myself").
_OWN_FEELING = re.compile(
    r"\bi(?:'m| am| was| feel| felt)?\s+(?:(?:a bit|a little|quite|very|really|so|also)\s+)?"
    r"(?:worried|concerned|anxious|nervous|uneasy)\s+(?:about|for)\s+(?:him|her|them)\b|"
    r"\bi\s+(?:worry|am worrying)\s+(?:a lot\s+)?about\s+(?:him|her|them)\b|"
    r"\b(?:nervous|stressed|anxious|worried)\s+myself\b|\bmyself\s+(?:was|felt)\b|"
    r"\bbekymr(?:et|a)\s+for\s+(?:ham|henne|hende|dem)\b|\b(?:nervøs|stressa|stresset|urolig)\s+selv\b|"
    r"\bselv\s+(?:litt\s+|lidt\s+)?(?:nervøs|stressa|stresset)\b|"
    r"\b(?:orolig|oroar\s+mig)\s+(?:lite\s+)?för\s+(?:honom|henne|dem)\b|"
    r"\bsjälv\s+(?:lite\s+)?(?:nervös|stressad|orolig)\b|\b(?:nervös|stressad)\s+själv\b|"
    r"\b(?:sorgen|besorgt)\s+um\s+(?:ihn|sie)\b|\bselbst\s+(?:ziemlich\s+|etwas\s+|ein\s+bisschen\s+)?"
    r"(?:aufgeregt|nervös|gestresst)\b|"
    r"\bmartwię\s+się\s+o\s+(?:niego|nią|nich)\b|\bsię\s+o\s+(?:niego|nią)\s+martwię\b|\b(?:sama|sam)\s+"
    r"(?:byłam|byłem)\b|"
    r"\bme\s+preocupa\b(?!\s+(?:mi|mis|el|la|que)\b)|\bpreocupad[oa]\s+por\s+(?:él|ella)\b|\byo\s+(?:misma|mismo)\b|"
    r"\b(?:хвилююся|переживаю|турбуюся)\s+за\s+(?:нього|неї|них)\b|\bя\s+(?:сама|сам)\b|"
    r"قلق(?:ة|ان|انة)?\s+(?:عليه|عليها|عليهم)|أنا\s+نفسي|كنت\s+أنا|"
    # Worry about whether the writer can help: "worried whether I can help her enough".
    r"\b(?:worried|unsure)\s+(?:whether|if)\s+i\b|\bbekymret\s+for,?\s+om\s+jeg\b|\borolig\s+för\s+om\s+jag\b|"
    r"\bsorgen,?\s+ob\s+ich\b|\bmartwię\s+się,?\s+czy\b|\b(?:переживаю|хвилююся),?\s+чи\b|"
    r"قلق(?:ة|ان|انة)?\s+(?:شوي\s+)?إذا",
    _FLAGS,
)
_CLAUSE_END = re.compile(r"[.;!?\n,\u060c\u061b]")
# What the writer reports of the participant after their own worry ("I'm worried about him because he says …").
_BECAUSE = re.compile(
    r"\b(?:because|fordi|eftersom|weil|bo|porque|\u0431\u043e|тому що)\b|(?:^|\s)(?:لأن|لأنه|لأنها)",
    _FLAGS,
)


def change_point(text: str) -> int | None:
    """Where the present begins in a text that first names an earlier state ("used to … now"), else None."""
    past = _PAST.search(text)
    if past is None:
        return None
    now = _NOW.search(text, past.end()) or _BUT.search(text, past.end())
    return now.start() if now is not None else None


def own_feeling_clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) of each clause in which the writer speaks of their own worry or nerves about someone."""
    spans = []
    for match in _OWN_FEELING.finditer(text):
        start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, match.start())), default=0)
        ends = [m.start() for m in (_CLAUSE_END.search(text, match.end()), _BECAUSE.search(text, match.end())) if m]
        spans.append((start, min(ends, default=len(text))))
    return spans


def without(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with the spans blanked out (same length, so offsets still point into the original)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)
