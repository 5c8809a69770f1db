"""Text normalisation and finders for personal data in disguise. Pure functions, no model.

A value written to slip past patterns (``ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ``, ``219\\u200b-09-9999``,
``j a n e @ e x a m p l e . c o m``, ``jane (at) example (dot) com``, ``four one five five five five
zero one eight seven``) is either made plain by :func:`normalize_text` (NFKC folds full-width and other
compatibility forms; invisible characters go) or found by a finder on the normalised text.

Use: ``text = normalize_text(text)`` first (the cleaning path does this before the scrubber runs, so
stored text is normalised), then call the finders on *that* text. Each finder returns sorted,
non-overlapping ``(start, end)`` spans into the string it was given; they find only the disguised
forms (plain e-mails and phone numbers are the recognizers' job) and never return values. The
residual-PII gate counts their spans (a hit blocks the day); a scrubber may replace them
(``FINDER_ENTITY_TYPES`` names the placeholder type of each).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# Unicode's Default_Ignorable_Code_Point set plus every format character (category Cf): zero-width
# spaces and joiners, word joiner, soft hyphen, bidirectional marks, embeddings, overrides and
# isolates, invisible operators, variation selectors, tag characters, Hangul fillers. They render as
# nothing, so inside a value they only serve to break patterns. (Unicode 15; a test checks the class
# against the running Python's character database.)
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def normalize_text(text: str) -> str:
    """``text`` with invisible characters removed, then NFKC-normalised.

    NFKC maps compatibility forms to their plain letters and digits: full-width (``ｊ``, ``＠``, ``１``),
    mathematical alphanumerics (``𝐣``), circled and small forms, ligatures (``ﬁ`` -> ``fi``), non-breaking
    and other spaces (-> a plain space). Invisible characters go first so they cannot block a composition.
    ASCII text comes back as it is, at no cost.
    """
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))


def _view_table() -> dict[int, str]:
    """Unicode's dashes (Pd), spaces (Zs), line and paragraph separators, full stops and decimal digits of
    every script, plus the minus signs, dot leaders and rules that people type between digit groups."""
    table = {ord(c): "-" for c in "\u02d7\u2043\u2212\u23af\u2500\u2501\u2796\u30fc"}
    table |= {ord(c): "." for c in "\u2024\u2027"}
    table |= {ord(c): " " for c in "\t"}
    table |= {ord(c): "\n" for c in "\x0b\x0c\x85"}
    for code in range(0x80, 0x20000):
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Nd":
            table[code] = str(unicodedata.decimal(char))
        elif category == "Pd":
            table[code] = "-"
        elif category == "Zs":
            table[code] = " "
        elif category in ("Zl", "Zp"):
            table[code] = "\n"
        elif category == "Po" and "FULL STOP" in unicodedata.name(char, ""):
            table[code] = "."
    return table


_VIEW_TABLE = _view_table()
# Middle dots join the parts of a value (415·555·0187) but, spaced, separate the items of a contact line
# ("jane@example.com · Mobile ..."), where a "." would glue them into one address.
_JOINING_MIDDLE_DOT = re.compile(r"(?<=\w)[\u00b7\u2219\u22c5\u30fb](?=\w)")
_ASCII_SEPARATORS = re.compile(r"[\t\x0b\x0c]")


def detection_view(text: str) -> str:
    """``text`` with each character that stands in for an ASCII separator or digit replaced by it, one for
    one: Unicode dashes and minus signs, the ideographic full stop, middle dots between two word characters,
    tabs and other spaces, other line separators, other scripts' decimal digits. NFKC leaves these alone,
    and patterns written for ``-``, ``.``, a space and ``[0-9]`` miss ``536–22–8841``, ``203。0。113。45``
    or ``٤١٥ ٥٥٥ ٠١٨٧``.

    Detection runs on this view; as it keeps every offset, its spans are replaced in the text itself,
    which keeps its own characters (an en dash between two years stays one).
    """
    if text.isascii() and not _ASCII_SEPARATORS.search(text):
        return text
    return _JOINING_MIDDLE_DOT.sub(".", text.translate(_VIEW_TABLE))


# --- e-mail addresses ---------------------------------------------------------------------------------

# "at" and "dot" written out or bracketed: jane (at) example [dot] com, jane at example dot com.
_BRACKETED = r"\s*[(\[{<]\s*(?:%s)\s*[)\]}>]\s*"
# "@" escaped for a URL, HTML or a string literal (mailto:jane%40example.com, jane&#64;example.com), or
# written "(a)" right between the two parts (jane(a)example.com).
_ENCODED_AT = r"%40|&#0*64;|&#x0*40;|&commat;|\\u0040|\\x40"
# Also joined by dashes or underscores: jane -at- example -dot- com, jane_at_example_dot_com.
_AT = r"(?P<at>" + _BRACKETED % r"at|@" + r"|[(\[]a[)\]]|\s+at\s+|\s*[-_]at[-_]\s*|\s*@\s*|" + _ENCODED_AT + ")"
_DOT = r"(?:" + _BRACKETED % r"dot|\." + r"|\s+(?:dot|period)\s+|\s*[-_]dot[-_]\s*|\s+\.\s+|\.)"
# Words of at most 64 characters, local parts of at most 32 words (a local part holds 64 characters): each
# start reads a bounded stretch, so "1-1-1-..." or "a dot a dot ..." without an "at" costs linear time.
_WORD = r"[a-z0-9](?:[a-z0-9_%+-]{0,62}[a-z0-9])?"
# Starts where a word starts (not inside one), so a word costs one attempt, not one per character; also after
# a dotted word and 64 characters into a long word, so padding past those bounds does not hide the address.
_SPELLED_EMAIL = re.compile(
    rf"(?:(?<![\w.@])|(?<=[a-z0-9]\.)|(?<=[a-z0-9_%+-]{{64}}))(?P<local>{_WORD}(?:{_DOT}{_WORD}){{0,31}})"
    rf"{_AT}{_WORD}(?:{_DOT}{_WORD})*{_DOT}[a-z]{{2,24}}(?![\w@])",
    re.IGNORECASE,
)
# Local part bounded to 64 characters as in the gate's pattern (quality/pii.py), for the same reason.
_PLAIN_EMAIL = re.compile(r"[a-z0-9._%+-]{1,64}@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}", re.IGNORECASE)
# The dots of a match that are not plain "." (words cannot hold spaces or brackets, so these are separators).
_DISGUISED_DOT = re.compile(r"\s+(?:dot|period)\s+|[-_]dot[-_]|[(\[{<]\s*(?:dot|\.)\s*[)\]}>]|\s+\.\s+", re.IGNORECASE)
# Every disguised spelling has one of these (or is letter-spaced): texts without skip the full pattern.
_MAYBE_EMAIL = re.compile(
    r"@|\bdot\b|\bperiod\b|[-_\s]at[-_\s]|\s\.\s|[(\[{<]\s*(?:at|dot|\.)\s*[)\]}>]|[(\[]a[)\]]|" + _ENCODED_AT,
    re.IGNORECASE,
)
_BARE_AT = re.compile(r"\s+at\s+", re.IGNORECASE)
# After a bare "at", a web host, or a last word capitalized or in capitals after plain dots, is prose, not a mail
# domain: "read at www . example . gov", "a lap at Monza . Great", "retires at 38 . SYDNEY" (news and posts are often
# tokenized, a space on each side of every full stop); "JDOE AT GMAIL DOT COM" is an address.
_NOT_A_MAIL_DOMAIN = re.compile(r"(?i:www)\b|(?!.*(?i:\bdot\b|period|[(\[{<]))(?:.*[^\w])?(?:[A-Z][a-z]+|[A-Z]{2,})$")
_HANDLE_CHAR = re.compile(r"[._%+\-0-9]")


def _is_handle(local: str) -> bool:
    # "jane.doe", "kwame_m85"; not "years", not "2" ("ranked 2 at kaggle.com").
    return len(local) >= 4 and bool(_HANDLE_CHAR.search(local)) and any(c.isalpha() for c in local)


def _is_disguised_email(match: re.Match) -> bool:
    """Which spellings count: a plain address is the recognizers' job, and prose must not match.

    A bracketed, dashed or escaped "at" always counts; a plain "@" only with a written-out, bracketed or
    spaced dot; the bare word "at" or "@" with spaces around it also with a local part shaped like a handle
    ("jane.doe at example.com", "jane.doe @ example.com"; not "worked at example.com", "Engineer @ Amazon.com");
    after a bare "at", not a web host or a domain ending in a capitalized word.
    """
    at = match.group("at")
    disguised_dot = bool(_DISGUISED_DOT.search(match.group(0)))
    if at == "@":
        return disguised_dot
    bare = bool(_BARE_AT.fullmatch(at))
    if bare and _NOT_A_MAIL_DOMAIN.match(match.string, match.end("at"), match.end()):
        return False
    if bare or at.strip() == "@":
        return disguised_dot or _is_handle(match.group("local"))
    return True  # bracketed, dashed or escaped


# Letter-spacing: "j a n e . d o e @ e x a m p l e . c o m". A run is a stretch of words on one line in
# which every gap touches a one-character word; it needs three one-character words in a row to start.
_TOKEN = re.compile(r"\S+")
_SPACED_LETTERS = re.compile(r"(?<!\S)\S(?:[^\S\n]+\S(?!\S)){2}")
_GAP = re.compile(r"[^\S\n]+")


def _spaced_runs(text: str) -> list[tuple[int, int]]:
    """Spans of letter-spaced runs (see above)."""
    if not _SPACED_LETTERS.search(text):
        return []
    runs: list[tuple[int, int]] = []
    tokens = [m.span() for m in _TOKEN.finditer(text)]
    start = 0
    for i in range(1, len(tokens) + 1):
        joined = (
            i < len(tokens)
            and _GAP.fullmatch(text, tokens[i - 1][1], tokens[i][0])
            and min(tokens[i - 1][1] - tokens[i - 1][0], tokens[i][1] - tokens[i][0]) == 1
        )
        if not joined:
            singles = [e - s == 1 for s, e in tokens[start:i]]
            if any(all(singles[j : j + 3]) and j + 3 <= len(singles) for j in range(len(singles))):
                runs.append((tokens[start][0], tokens[i - 1][1]))
            start = i
    return runs


def _despaced(text: str) -> tuple[str, list[int] | range]:
    """``text`` with the gaps inside letter-spaced runs removed, and each kept character's offset in ``text``."""
    runs = _spaced_runs(text)
    if not runs:
        return text, range(len(text))
    kept: list[int] = []
    position = 0
    for start, end in runs:
        kept += range(position, start)
        kept += (i for i in range(start, end) if not text[i].isspace())
        position = end
    kept += range(position, len(text))
    return "".join(text[i] for i in kept), kept


def disguised_email_spans(text: str) -> list[tuple[int, int]]:
    """E-mail addresses in disguise: "at"/"dot" written out or bracketed, spaces around "@" or the dots,
    or letter-spaced (any mix of these). Placeholder type: EMAIL_ADDRESS."""
    view, offsets = _despaced(text)
    if view is not text:
        patterns = (_SPELLED_EMAIL, _PLAIN_EMAIL)
    elif _MAYBE_EMAIL.search(text):
        patterns = (_SPELLED_EMAIL,)
    else:
        return []
    spans = []
    for pattern in patterns:
        for match in pattern.finditer(view):
            start, end = offsets[match.start()], offsets[match.end() - 1] + 1
            letter_spaced = end - start != match.end() - match.start()
            if letter_spaced or (pattern is _SPELLED_EMAIL and _is_disguised_email(match)):
                spans.append((start, end))
    return _merged(spans)


# --- numbers (phones, SSNs, cards) spelled in words or spaced digit by digit -------------------------------

_UNITS = ("zero", "oh", "o", "nought", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "niner")
_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("twenty", "thirty", "forty", "fourty", "fifty", "sixty", "seventy", "eighty", "ninety")
_MULTIPLIERS = {"double": 2, "triple": 3, "treble": 3}
_NUMBER_TOKEN = re.compile(
    r"\b(?:" + "|".join((*_UNITS, *_TEENS, *_TENS, "hundred", *_MULTIPLIERS)) + r")\b|\d+",
    re.IGNORECASE,
)
# What may stand between the words or digit groups of one number: spaces, dashes, dots, commas, slashes,
# brackets, a plus sign (country code), and "dash"/"hyphen" written out. Not a line break.
_NUMBER_GAP = re.compile(r"(?:[^\S\n]|[-\u2010-\u2015.,/()+]|\b(?:dash|hyphen)\b)*", re.IGNORECASE)
MIN_NUMBER_DIGITS = 7  # a local phone number; SSNs have 9, cards up to 19
MAX_NUMBER_DIGITS = 19
MIN_SPELLED_WORDS = 3  # "2019-2021, one of ..." is not a number in disguise
MIN_SPACED_DIGITS = 5  # "4 1 5 5 5 5 0 1 8 7"; "Q1 2 3" is not


def _number_digits(words: list[str]) -> tuple[int, int, int]:
    """Digits written by a run of number tokens, how many were words, how many were single digits."""
    digits = spelled = singles = 0
    multiplier = 1
    previous = ""
    for token in words:
        word = token.lower()
        if word.isdigit():
            digits += len(word) * multiplier
            singles += len(word) == 1
        elif word in _MULTIPLIERS:
            multiplier = _MULTIPLIERS[word]
            spelled += 1
            continue
        else:
            spelled += 1
            if word == "hundred":
                digits += 2  # "four hundred" is three digits; what follows it fills the zeros
            elif previous != "hundred" and not (word in _UNITS and previous in _TENS):  # "fifty five": two digits
                digits += (1 if word in _UNITS else 2) * multiplier
        multiplier = 1
        previous = word
    return digits, spelled, singles


def disguised_number_spans(text: str) -> list[tuple[int, int]]:
    """Numbers of phone, SSN or card length (7-19 digits) written in words, digit by digit with spaces,
    or mixed: "four one five five five five oh one eight seven", "4 1 5 - 5 5 5 - 0 1 8 7",
    "415 five five five 0187". Placeholder type: PHONE_NUMBER."""
    tokens = list(_NUMBER_TOKEN.finditer(text))
    spans = []
    start = 0
    for i in range(1, len(tokens) + 1):
        if i < len(tokens) and _NUMBER_GAP.fullmatch(text, tokens[i - 1].end(), tokens[i].start()):
            continue
        run = tokens[start:i]
        digits, spelled, singles = _number_digits([m.group(0) for m in run])
        if MIN_NUMBER_DIGITS <= digits <= MAX_NUMBER_DIGITS and (
            spelled >= MIN_SPELLED_WORDS or singles >= MIN_SPACED_DIGITS
        ):
            spans.append((run[0].start(), run[-1].end()))
        start = i
    return spans


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


# Finder -> the placeholder type a scrubber would give its spans.
FINDER_ENTITY_TYPES: dict[Callable[[str], list[tuple[int, int]]], str] = {
    disguised_email_spans: "EMAIL_ADDRESS",
    disguised_number_spans: "PHONE_NUMBER",
}
