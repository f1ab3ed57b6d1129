"""The rules the trained model defers to: "used to … now" changes and the writer's own feelings, in nine languages.

A bag of words cannot tell "I used to be shy, now I ask the questions" from "I am shy", nor a volunteer's
"I'm a bit worried about her" from a participant's worry. These patterns find the structure; the
classifier (`trained_classifier.py`) re-scores the parts of the text they delimit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.q2q.domain.features import Token, is_negator

_FLAGS = re.IGNORECASE | re.UNICODE
# An earlier state: "used to", "at first", "before" and their equivalents (en nb sv da de pl es uk ar).
_PAST = re.compile(
    r"\b(?:used to|at first|in the beginning|at the (?:beginning|start)|back then|previously|before|"
    r"(?:a|one|half a) year ago|when i (?:arrived|came|started)|last (?:year|autumn|spring|winter|summer)|"
    r"for (?:et|ett) år siden|för (?:ett|ett halvt) år sedan|vor einem (?:halben )?jahr|"
    r"rok temu|pół roku temu|hace (?:un|medio) año|рік тому|пів року тому|"
    r"før|tidligere|i (?:begynnelsen|starten|begyndelsen)|pleide|plejede|da jeg kom|"
    r"förut|förr|tidigare|i början|brukade|när jag kom|"
    # "før", "förr" written without their letters, told from "for" by the inverted verb and subject after them.
    r"f(?:o|oe|oo)r+(?=,?\s+\w+\s+(?:jeg|jag|han|hun|hon|vi)\b)|"
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
# "selv", "själv" with a letter doubled, dropped or swapped ("sev", "sellv", "slev").
_SELV = r"s(?:e?l+e?|e)v+"
# Helping the participant enough: "not helping her enough", "hjælper hende nok", "допомагаю їй достатньо".
_HELPING = (
    r"(?:help\w*|support\w*|doing\s+enough|doing\s+(?:it|this)\s+right|hjelpe?r?|hjælpe?r?|støtte?r?|hjälpe?r?|"
    r"stödje?r?|helfe\w*|unterstütz\w*|pomaga\w*|pomóc|wspiera\w*|ayud\w*|apoy\w*|допомага\w*|допомогти|"
    r"підтриму\w*|أساعد\w*|ساعد\w*)"
)
_ENOUGH = (
    r"(?:enough|her|him|them|nok|tillräckligt|nog|genug|ihr|ihm|wystarczająco|jej|mu|im|lo suficiente|"
    r"la|lo|le|достатньо|їй|йому|كفاية|بما يكفي|\u0647\u0627|\u0647)"  # the last two: Arabic "her", "him"
)
# The writer's part: explaining, helping, supporting, teaching, enough.
_ROLE = (
    r"(?:explain\w*|help\w*|support\w*|teach\w*|enough|forklar\w*|hjelpe?r?|hjælpe?r?|hjälpe?r?|støtte?r?|"
    r"stödje?r?|nok|tillräckligt|erklär\w*|helfe\w*|genug|unterstütz\w*|tłumacz\w*|wyjaśnia\w*|pomaga\w*|pomóc|"
    r"wystarczająco|explic\w*|ayud\w*|suficiente|поясн\w*|допомага\w*|допомогти|достатньо)\b"
)
_OWN_FEELING = re.compile(
    # Worry whether the writer helps the participant enough: "I worry I am not helping her enough".
    r"\b(?:worr\w*|nervous|anxious|afraid|scared|unsure|bekymr\w*|redd|bange|urolig|orolig|oroar\s+mig|rädd|"
    r"sorge\w*|angst|besorgt|martwię\s+się|boję\s+się|obawiam\s+się|me\s+preocupa|temo|переживаю|хвилююся|"
    r"турбуюся|боюся)\W+(?:\w+\W+){0,5}?(?:"
    + _HELPING
    + r"\W+(?:\w+\W+){0,2}?"
    + _ENOUGH
    + r"|"
    + _ENOUGH
    + r"\W+(?:\w+\W+)?"
    + _HELPING
    + r")\b|"
    r"(?:قلق\w*|أخشى|خايف\w*)\s+(?:\S+\s+){0,4}?(?:أساعد|ساعد)\S*\s*(?:\S+\s+)?(?:كفاية|بما يكفي)?|"
    r"\bi(?:'m| am| was| feel| felt)?\s+(?:(?:a bit|a little|quite|very|really|so|also)\s+)?"
    r"(?:worried|concerned|anxious|nervous|uneasy)\s+(?:about|for)\s+(?:him|her|them)\b|"
    r"\bi\s+(?:worry|am worrying)\s+(?:a lot\s+)?about\s+(?:him|her|them)\b|"
    r"\b(?:nervous|stressed|anxious|worried)\s+myself\b|\bmyself\s+(?:was|felt)\b|"
    r"\bbekymr(?:et|a)\s+for\s+(?:ham|henne|hende|dem)\b|\b(?:nervøs|stressa|stresset|urolig)\s+" + _SELV + r"\b|"
    r"\b" + _SELV + r"\s+(?:litt\s+|lidt\s+)?(?:nervøs|stressa|stresset)\b|"
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
    r"\b(?:worried|unsure)\s+(?:whether|if)\s+i\b|"
    # Nerves about the writer's own part, whether they explain or help well enough: "I'm nervous whether I explain
    # well", "usikker på om jeg hjelper nok" (a participant's "nervous whether I pass" is not the writer's part).
    r"\b(?:worried|unsure|nervous|anxious|afraid|scared|uncertain|insecure|not\s+sure|usikker|nervøs|bekymret|"
    r"urolig|redd|bange|spent|osäker|nervös|orolig|rädd|unsicher|besorgt|aufgeregt|sorgen|"
    r"denerwuję\s+się|martwię\s+się|stresuję\s+się|niepewn\w*|pewn[ay]|nervios[oa]|preocupad[oa]|insegur[oa]|"
    r"segur[oa]|хвилююся|переживаю|нервую|впевнен\w*)\W+(?:\w+\W+){0,3}?"
    r"(?:(?:whether|if)\s+i|om\s+(?:jeg|jag)|ob\s+ich|czy|si|чи)\W+(?:\w+\W+){0,4}?" + _ROLE + r"|"
    r"(?:قلق\w*|متأكد\w*|خايف\w*|متوتر\w*)\s+(?:\S+\s+){0,2}?(?:إذا|هل)\s+(?:\S+\s+){0,3}?"
    r"(?:أشرح|اشرح|أساعد|اساعد|ساعد|كفاية|بما يكفي)|"
    r"\bsorgen,?\s+ob\s+ich\b|\bmartwię\s+się,?\s+czy\b|\b(?:переживаю|хвилююся),?\s+чи\b|"
    r"قلق(?:ة|ان|انة)?\s+(?:شوي\s+)?إذا",
    _FLAGS,
)
_SENTENCE_END = re.compile(r"[.!?;\n\u061f]+")
# A clause begins after a sentence end, a comma or a colon, or at "and" followed by a subject pronoun or an
# earlier-state marker ("and she felt alone before", "og i starten", "i kiedyś", "و كنت" is one word: see _PAST).
_CLAUSE_START = re.compile(
    r"[.!?;:,\n\u060c\u061b\u061f]+|\b(?:and|og|och|und|i|y|e|\u0456|й|та)\s+(?="
    r"(?:i|he|she|they|we|jeg|han|hun|de|vi|jag|hon|ich|er|sie|wir|ja|on|ona|oni|yo|él|ella|я|він|вона|вони|ми"
    r"|at first|in the beginning|before|back then|previously|for|för|før|tidligere|i|förut|förr|früher|anfangs|am"
    r"|zuerst|vorher|damals|kiedyś|na|wcześniej|dawniej|antes|al|hace|раніше|спочатку|колись)\b)",
    _FLAGS,
)
# Not understanding what people say or the language itself ("I don't get what the teacher tells me", "Я не розумію
# мови") is a low language level, not confusion about what to do; the object decides.
_NOT_UNDERSTANDING = (
    r"(?:(?:don't|dont|do not|didn't|did not|can't|cannot|can not|couldn't)\s+(?:really\s+)?(?:understand|get|follow)|"
    r"(?:forstår|förstår|skjønner|forsto|förstod|forstod)\s+(?:\w+\s+)?(?:ikke|inte|ikkje)|"
    r"(?:ikke|inte)\s+(?:forstår|förstår|skjønner)|verstehe?\s+(?:\w+\s+)?(?:nicht|kein\w*|nichts)|"
    r"nie\s+rozumiem|no\s+entiend\w*|не\s+розумі\w*|(?:لا|ما)\s+(?:أفهم|افهم|بفهم))"
)
_SPEECH = (
    r"(?:language|norwegian|swedish|danish|german|english|says?|said|tells?|told|talks?|talking|speaks?|speaking|"
    r"språk\w*|sprog\w*|norsk|svenska|dansk|sier|sa|snakker|säger|sa|pratar|talar|siger|taler|sprache|deutsch|"
    r"sagt|sprechen|spricht|redet|reden|język\w*|norwesku|szwedzku|duńsku|niemiecku|mówi\w*|idioma|noruego|sueco|"
    r"danés|alemán|dice\w*|dijo|habla\w*|мов\w*|норвезьк\w*|каж\w*|говор\w*|розмовля\w*|"
    r"اللغة|لغة|يقول|تقول|يحكي|تحكي|بيحكي|عم يحكي|الناس)"
)
# What makes it confusion after all: a process, papers or what to do ("what the caseworker said about the forms").
_PROCESS = re.compile(
    r"\b(?:documents?|forms?|papers?|rules?|application|apply|what to do|how to|which|deadline|dokument\w*|skjema\w*|"
    r"blankett\w*|søknad\w*|ansökan|formular\w*|unterlagen|antrag|dokument\w*|wniosek|formularz\w*|documentos?|"
    r"formulario|solicitud|документ\w*|заяв\w*|форм\w*)\b|(?:الأوراق|الاستمارة|الطلب|أوراق)",
    _FLAGS,
)
_LANGUAGE_OBJECT = re.compile(
    r"\b" + _NOT_UNDERSTANDING + r"[\s,]+(?:\S+\s+){0,7}?" + _SPEECH + r"(?=\W|$)|"
    r"(?:^|\s)(?:لا|ما)\s+(?:أفهم|افهم|بفهم)\s+(?:\S+\s+){0,5}?" + _SPEECH,
    _FLAGS,
)
# What may stand between the end of the present clause and an earlier-state marker that opens a clause: punctuation,
# "but"/"and" ("Now I ask questions; before I never dared", "nå tør jeg, men før turte jeg ikke").
_OPENER = re.compile(
    r"(?:[,;:.!?\n\u060c\u061b\u061f\u2013\u2014-]+\s*"
    r"(?:(?:but|and|men|og|och|aber|und|ale|i|pero|y|\u0430|але|\u0456|та|لكن|و)\s+)?"
    r"|\s(?:but|men|aber|ale|pero|\u0430|але|لكن)\s+)[وف]?$",  # \u0430, \u0456: Ukrainian "but", "and"
    _FLAGS,
)
_OPENER_WIDTH = 24  # longer than any opener: punctuation, spaces and "but"/"and"
_CLAUSE_END = re.compile(r"[.;!?\n,\u060c\u061b]")
# What the writer reports of the participant after their own worry ("I'm worried about him because he says …").
_BECAUSE = re.compile(
    r"\b(?:because|fordi|eftersom|weil|bo|porque|\u0431\u043e|тому що)\b|(?:^|\s)(?:لأن|لأنه|لأنها)",
    _FLAGS,
)


def change_point(text: str) -> int | None:
    """Where the present begins in a text that first names an earlier state ("used to … now"), else None."""
    span = change_span(text)
    return span[1] if span is not None else None


def change_span(text: str) -> tuple[int, int] | None:
    """(start, end) of the earlier state of a "used to … now" text: from the start of the clause that names it
    to where the present begins; None without one.

    The rest of the text is not part of the change: "I don't fit in at the club. Before, I was afraid to speak.
    Now I speak up" keeps "don't fit in", and "… because I don't dare, and at first I was an outsider, now I
    belong" keeps "I don't dare". The present is looked for in the sentence of the earlier state and the next.
    """
    change = find_change(text)
    if change is None or change.present[0] < change.earlier[0]:
        return None
    return change.earlier


@dataclass(frozen=True)
class Change:
    """A "used to … now" text: the span of the earlier state and the span of the present sentence that replaces it.

    Either may come first: "I used to be shy, now I ask" and "Now I ask questions; before I never dared".
    """

    earlier: tuple[int, int]
    present: tuple[int, int]
    marker: int  # where the earlier-state marker ("used to", "før", "سابقا") begins


def find_change(text: str) -> Change | None:
    """The earlier state and the present of a text that names a change, in either order; None without one."""
    for past in _PAST.finditer(text):
        limit = _end_of_next_sentence(text, past.end())
        now = _NOW.search(text, past.end(), limit) or _BUT.search(text, past.end(), limit)
        if now is not None:
            marker = _marker_start(past)
            point = now.start()
            return Change((_clause_start(text, marker), point), (point, present_end(text, point)), marker)
    return _present_first(text)


def _present_first(text: str) -> Change | None:
    """ "Now I ask questions; before I never dared": a present marker, then an earlier-state marker that opens a
    clause of its own (after a comma, a semicolon, a sentence end or "but") in the same sentence or the next."""
    for now in _NOW.finditer(text):
        limit = _end_of_next_sentence(text, now.end())
        for past in _PAST.finditer(text, now.end(), limit):
            start = _opening(text, past.start())
            if start is None:
                continue
            present = (_clause_start(text, now.start()), start)
            earlier_end = _SENTENCE_END.search(text, past.end())
            return Change((start, earlier_end.end() if earlier_end else len(text)), present, _marker_start(past))
    return None


def _marker_start(past: re.Match[str]) -> int:
    """Where an earlier-state marker begins: the Arabic markers' match begins at the whitespace before them."""
    return past.start() + len(past.group()) - len(past.group().lstrip())


def _opening(text: str, position: int) -> int | None:
    """Where the clause that `position` opens begins (its punctuation or "but" included), or None when a word of
    the clause comes before it ("I have to call before Friday")."""
    head = text[max(0, position - _OPENER_WIDTH) : position]
    match = _OPENER.search(head)
    return position - len(head) + match.start() if match is not None else None


# Verbs too light to carry the state a change is about ("I didn't feel confident, now I feel scared" contrasts
# "confident" and "scared", not "feel"), normalised as features.normalise_token does.
_LIGHT = (
    "feel", "felt", "have", "had", "was", "were", "been", "get", "got", "føle", "følte", "føler", "hadde", "har",
    "var", "være", "kanne", "kande", "kanner", "hade", "vara", "fole", "folte", "foler", "havde", "være", "fuhl",
    "habe", "hatte", "war", "czu", "mia", "mam", "byl", "jest", "sent", "teni", "tengo", "era", "estab", "esto",
    "відч", "мала", "мав", "була", "був", "كنت", "كان", "أشعر", "اشعر",
)  # fmt: skip
_STEM = 4


def negation_contrast(words: Sequence[Token], change: Change) -> tuple[bool, bool]:
    """(negated, repeated) for a change whose present has no negator (else both False).

    `negated`: a negator follows the earlier-state marker in its clause ("før turte jeg aldri"); one that comes
    before the marker may belong to a clause run into it ("jag har ingen att be om hjälp förut var jag säker").
    `repeated`: the earlier clause has a negator and the present repeats one of its words, so it affirms what the
    earlier clause negated ("Før turte jeg ikke å spørre om noe, men nå spør jeg hele tiden", "Antes no me atrevía
    a preguntar, pero ahora pregunto"). Words are compared by their first four letters; light verbs ("feel",
    "have", "be") do not count.
    """
    (e_start, e_end), (p_start, p_end) = change.earlier, change.present
    earlier, present, negated, after_marker = set(), set(), False, False
    for word in words:
        if e_start <= word.start < e_end:
            if is_negator(word.norm):
                negated, after_marker = True, after_marker or word.start >= change.marker
            earlier.add(word.norm[:_STEM])
        elif p_start <= word.start < p_end:
            if is_negator(word.norm):
                return False, False
            present.add(word.norm[:_STEM])
    repeated = any(len(stem) == _STEM and not stem.startswith(_LIGHT) for stem in earlier & present)
    return after_marker, negated and repeated


def present_end(text: str, point: int) -> int:
    """Where the sentence of the present that begins at `point` ends."""
    end = _SENTENCE_END.search(text, point)
    return end.end() if end is not None else len(text)


def _end_of_next_sentence(text: str, position: int) -> int:
    first = _SENTENCE_END.search(text, position)
    second = _SENTENCE_END.search(text, first.end()) if first is not None else None
    return second.end() if second is not None else len(text)


def _clause_start(text: str, position: int) -> int:
    """Where the clause holding `position` begins: after a sentence end, a comma, or "and" that opens a new clause
    with its own subject or time ("and she felt alone before", "og i starten var jeg")."""
    if position > 0 and text[position].isupper():
        return position  # a capitalised marker opens a sentence whose full stop is missing
    starts = [m.end() for m in _CLAUSE_START.finditer(text) if m.end() <= position]
    return max(starts, default=0)


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


def language_clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) of each clause in which the writer does not understand the language or what people say (and
    no papers or procedure are named)."""
    spans = []
    for match in _LANGUAGE_OBJECT.finditer(text):
        start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, match.start())), default=0)
        end = _SENTENCE_END.search(text, match.end())
        span = (start, end.start() if end is not None else len(text))
        if not _PROCESS.search(text, *span):
            spans.append(span)
    return spans
