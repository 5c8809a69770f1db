"""Shapes of payment cards, national phone numbers and international street addresses, as people write them.

Plain regular expressions and checks, shared by the scrubber's recognizers and the
residual-PII gate, so the gate checks every format the scrubber claims to remove.
Street patterns are anchored on street-type words (``Straße``, ``rue``, ``via``,
``-katu``, ``utca`` ...), so they stay fast and do not fire on ordinary prose.
"""

from __future__ import annotations

import re

from presidio_analyzer.predefined_recognizers.generic import iban_patterns

# --- payment cards -------------------------------------------------------------------------------

# Issuer identification ranges (first digits, inclusive) and the lengths each issuer uses.
_CARD_RANGES: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (4, 4, (13, 16, 19)),  # Visa (19 digits since 2018)
    (51, 55, (16,)),  # Mastercard
    (2221, 2720, (16,)),  # Mastercard 2-series
    (34, 34, (15,)),  # American Express
    (37, 37, (15,)),
    (300, 305, (14, 16, 17, 18, 19)),  # Diners Club
    (36, 36, (14, 16, 17, 18, 19)),
    (38, 39, (14, 16, 17, 18, 19)),
    (6011, 6011, (16, 17, 18, 19)),  # Discover
    (644, 649, (16, 17, 18, 19)),
    (65, 65, (16, 17, 18, 19)),
    (3528, 3589, (15, 16, 17, 18, 19)),  # JCB
    (1800, 1800, (15,)),  # JCB (legacy 15-digit)
    (2131, 2131, (15,)),
    (50, 50, tuple(range(12, 20))),  # Maestro
    (56, 69, tuple(range(12, 20))),  # Maestro, UnionPay (62), RuPay (60), Verve (650)
    (2200, 2204, (16, 17, 18, 19)),  # Mir
    (9792, 9792, (16,)),  # Troy
)
# 12-19 digits, bare or in groups separated by one or two spaces, a hyphen or a dot (4-4-4-4, 4-6-5, ...).
CARD_CANDIDATE = re.compile(r"(?<![\w+.,/-])\d{2,6}(?:(?: {1,2}|[-.])?\d{2,6}){1,6}(?![\w-]|[.,/]\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_card_number(text: str) -> bool:
    """Whether ``text`` (digits with optional separators) is a Luhn-valid number in an issuer's range and length."""
    digits = re.sub(r"[ .-]", "", text)
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_valid(digits):
        return False
    return any(
        low <= int(digits[: len(str(low))]) <= high and len(digits) in lengths for low, high, lengths in _CARD_RANGES
    )


def card_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in CARD_CANDIDATE.finditer(text) if is_card_number(m.group())]


# --- IBANs ---------------------------------------------------------------------------------------

# A country code and check digits (``DE 89 …`` happens too), then up to 30 letters or digits with up to two
# spaces or hyphens between any two (``DE89 3704  0044 …``, ``de89-3704-…``, a tab in the detection view):
# Presidio's pattern takes one space between groups of four only. Which prefix is the IBAN is decided by the
# country's format and mod 97.
_IBAN_CANDIDATE = re.compile(r"(?<![^\W_])[A-Za-z]{2} ?\d{2}(?:[ -]{0,2}[A-Za-z0-9]){10,30}")
_IBAN_FORMATS = {
    country: re.compile(pattern.replace("[ ]?", "")) for country, pattern in iban_patterns.regex_per_country.items()
}


def is_iban(compact: str) -> bool:
    """An upper-case IBAN without separators in its country's format, with valid check digits (ISO 13616)."""
    pattern = _IBAN_FORMATS.get(compact[:2])
    if pattern is None or not pattern.fullmatch(compact):
        return False
    return int("".join(str(int(char, 36)) for char in compact[4:] + compact[:4])) % 97 == 1


def iban_spans(text: str) -> list[tuple[int, int]]:
    """IBANs written with any case and spacing; a candidate running on into the next word is cut back, and one
    that holds no IBAN is tried again from its next word (``ref AB12 DE89 3704 …``)."""
    spans, position = [], 0
    while match := _IBAN_CANDIDATE.search(text, position):
        ends = [match.start() + i + 1 for i, char in enumerate(match.group()) if char.isalnum()]
        compact = "".join(char for char in match.group() if char.isalnum()).upper()
        end = next(
            (
                ends[length - 1]
                for length in range(len(compact), 14, -1)
                if not text[ends[length - 1] : ends[length - 1] + 1].isalnum() and is_iban(compact[:length])
            ),
            None,
        )
        if end is None:
            position = match.start() + 1
        else:
            spans.append((match.start(), end))
            position = end
    return spans


# --- US social security numbers after their label ----------------------------------------------

# A label, then nine digits in 3-2-4 groups with any separators: "SSN: 536 - 22 - 8841", "SS# 536 228841".
# Presidio's patterns take one separator of one kind; after the label any spelling is the number.
_CUED_SSN = re.compile(
    r"(?i)\b(?:s\.?s\.?n\.?|ss#|soc(?:ial)?[ .]*sec(?:urity)?(?:[ .]*(?:no|number|#))?)[ \t#:.=-]{0,4}"
    r"(?P<ssn>(?<!\d)\d{3}[ \t./-]{0,3}\d{2}[ \t./-]{0,3}\d{4}(?![\d-]))"
)


def is_ssn(digits: str) -> bool:
    """Issuable by the SSA: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    return digits[:3] not in ("000", "666") and digits[0] != "9" and digits[3:5] != "00" and digits[5:] != "0000"


def cued_ssn_spans(text: str) -> list[tuple[int, int]]:
    return [
        m.span("ssn") for m in _CUED_SSN.finditer(text) if is_ssn("".join(c for c in m.group("ssn") if c.isdigit()))
    ]


# --- national phone numbers next to a cue ------------------------------------------------------

# Words people put before (or after) a phone number, in the languages of the CVs a resume app sees.
# Verbs and nouns that also count things ("12000000 messages", "answered 250000 calls") are cues only right
# before the number ("call 612 345 678", "text me on …", "SMS: …"); the others anywhere before it on its line.
_ADJACENT_ONLY_CUES = r"signal|call|calls|calling|ring|text|texts|sms|message|messages|dial|answer|answering"
PHONE_CUES = (
    r"phone|phones|ph|tel|tele|telephone|mobile|mob|cell|cellphone|cell phone|handy|whatsapp|viber|"
    r"voicemail|fax|landline|"
    r"hotline|contact number|phone no|tel no|mobile no|call me on|reach me|"
    r"tél|téléphone|portable|móvil|movil|celular|teléfono|telefono|telefone|telemóvel|telefon|puhelin|"
    r"matkapuhelin|puh|gsm|tlf|mobil|mobiel|telefoon|cellulare|tel\. ?nr|numer|kom|komórka"
)
# Chinese, Japanese and Korean write words without spaces ("我的手机13800138000"): no word boundary there.
CJK_PHONE_CUES = r"电话|電話|手机|手機|携帯|連絡先|联系方式|연락처|전화|휴대폰|핸드폰"
_CUE = re.compile(rf"(?i)(?<![^\W\d_])(?:{PHONE_CUES})(?![^\W\d_])|{CJK_PHONE_CUES}")
_ADJACENT_CUE = re.compile(
    rf"(?i)(?<![^\W\d_])(?:{_ADJACENT_ONLY_CUES})"
    r"(?:[ \t]+(?:me|us|to|on|at|my|our|your|the|this|registered|number|no\.?|is|via|of)){0,4}[ \t]*[:.#-]?[ \t]*$"
)
# Labels written after a number in contact lists ("555 0100 office").
_AFTER_CUE = re.compile(rf"(?i)^[ \t]*[(\[]?(?:{PHONE_CUES}|office|home|work|direct|private)(?![^\W\d_])")
# Digits in groups as countries write them: 555 0100, 12-34-56-78, (12) 345-678, 01.23.45.67.89, 0123/456 78 90,
# or in one run (13800138000).
# Not glued to a Latin letter or digit; glued to a CJK word it may be ("手机13800138000", "010-1234-5678입니다").
NATIONAL_PHONE = re.compile(
    r"(?<![A-Za-z0-9_+.,/-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,15}(?:(?:[ .-]|/ ?)\d{1,8}){0,5}"
    r"(?:[ \t]*(?:x|ext\.?)[ \t]*\d{1,6})?(?![A-Za-z0-9_-]|[.,/]\d)"
)
NATIONAL_PHONE_DIGITS = (6, 15)
# Dates and runs of years next to a cue ("call me about the 2019 2020 budget", "calls logged 2024-03-17") are not phones.
_DATE_OR_YEARS = re.compile(
    r"(?:19|20)\d\d[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])|"
    r"(?:0?[1-9]|[12]\d|3[01])[-./](?:0?[1-9]|1[0-2])[-./](?:19|20)\d\d|"
    r"(?:(?:19|20)\d\d[ ,/-]+)+(?:19|20)\d\d"
)
_CUE_WINDOW = 40
# Round quantities ("from 1200000 to 300000", "3 500 000 SMS") are counts, whatever cue is near.
# At most three significant digits before the zeros: a phone such as 13800138000 ends in zeros too.
_ROUND_QUANTITY = re.compile(r"[1-9]\d{0,2}(?:[ .]\d{3})*[ .]000|[1-9]\d{0,2}0{3,}")
# A contact line lists its items between separators or after an icon: "Madrid · 612 34 56 78 · jane@…",
# "📱 612 34 56 78", "Oslo | 412 34 567". A grouped number of 8-13 digits standing alone as such an item is a
# phone even without a word for it (libphonenumber knows only some countries' plans without a country code).
_PHONE_ICONS = "☎📞📱✆☏📲"
_ITEM_SEPARATOR = r"[|·•▪◦,;/]"
_ITEM_BEFORE = re.compile(rf"(?:{_ITEM_SEPARATOR}|[ \t]{{3}})[ \t]*$")
_ITEM_WINDOW = 120  # characters of the line read on each side: a long line costs no more per number
_ITEM_AFTER = re.compile(rf"[ \t]*(?:$|{_ITEM_SEPARATOR}|[ \t]{{3}})")
_ICON_BEFORE = re.compile(rf"[{_PHONE_ICONS}]\ufe0f?[ \t]*$")


def _is_contact_item(text: str, start: int, end: int, line_start: int, line_end: int) -> bool:
    value = text[start:end]
    if not 8 <= _digits(value) <= 13 or not re.search(r"\d[ -]\d", value):
        return False
    window_start = max(line_start, start - _ITEM_WINDOW)
    before, after = text[window_start:start], text[end : min(line_end, end + _ITEM_WINDOW)]
    if _ICON_BEFORE.search(before):
        return True
    line = before + after
    opens_line = window_start == line_start and not before.strip()
    # Grouped like a figure ("12 345 678" in a table row), it needs an e-mail on the line to be a phone.
    figure = re.fullmatch(r"\d{1,3}(?:[ .]\d{3})+", value)
    return (
        bool((opens_line or _ITEM_BEFORE.search(before)) and _ITEM_AFTER.match(after))
        and bool(line.strip())
        and ("@" in line or (not figure and bool(re.search(_ITEM_SEPARATOR, line))))
    )


# Month and year in either order, alone or as a range ("06/2015 - 08/2019", "2014/09 – 2018/06", "09.2016"):
# libphonenumber reads some as a number of a region it knows; a year-numbered ID after its label likewise.
_MONTH_YEAR = r"(?:(?:0?[1-9]|1[0-2])[/.](?:19|20)\d\d|(?:19|20)\d\d[/.](?:0?[1-9]|1[0-2]))"
_DATE_RANGE = re.compile(
    rf"{_MONTH_YEAR}(?:[ \t]*[-–—][ \t]*(?:{_MONTH_YEAR}|(?:19|20)\d\d))?|(?:19|20)\d\d[ \t]*[-–—][ \t]*{_MONTH_YEAR}"
)
_YEAR_ID = re.compile(r"(?:19|20)\d\d-\d{4,6}")
_ID_LABEL = re.compile(r"(?i)\b(?:id|req|ref|reference|ticket|job|employee|invoice|order|case|no)\.?[ \t]*[:#]?[ \t]*$")
# A postcode after its label (ZIP 94107-1234, CEP 01310-930) and a standard's number (IATF 16949 – 2016) are
# numbers of some region to libphonenumber.
_CODE_LABEL = re.compile(
    r"(?:(?i:\b(?:zip|zip code|postcode|post code|postal code|pin|pin code|cep|plz))[ \t]*[:.#-]?"
    r"|\b(?:ISO|IEC|IATF|EN|DIN|BS|IEEE)(?:[ \t/]+(?:ISO|IEC))?)[ \t]*$"
)
_DATE_PIECE_BEFORE = re.compile(r"(?:\d{1,4}[/.])+$")
_DATE_PIECE_AFTER = re.compile(r"(?:[/.]\d{1,4})+")


def is_date_or_reference(text: str, start: int, end: int) -> bool:
    """Whether a phone candidate is a full date or a run of years, a month/year date or range (widened over
    the date pieces beside it), a year-numbered ID after its label (``Req ID 2024-118734``), or a postcode or
    standard after its label."""
    if _CODE_LABEL.search(text, max(0, start - 20), start):
        return True
    if _DATE_OR_YEARS.fullmatch(text, start, end):
        return True
    if before := _DATE_PIECE_BEFORE.search(text, max(0, start - 12), start):
        start = before.start()
    if after := _DATE_PIECE_AFTER.match(text, end):
        end = after.end()
    value = text[start:end].strip(" ()")
    if _DATE_RANGE.fullmatch(value):
        return True
    return bool(_YEAR_ID.fullmatch(value)) and bool(_ID_LABEL.search(text, max(0, start - 20), start))


def line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Start and end of the line (or lines) holding ``text[start:end]``, line breaks excluded."""
    line_end = text.find("\n", end)
    return text.rfind("\n", 0, start) + 1, len(text) if line_end == -1 else line_end


def _digits(value: str) -> int:
    return sum(c.isdigit() for c in re.split(r"(?i)x|ext", value)[0])


def cued_phone_spans(text: str) -> list[tuple[int, int]]:
    """National numbers (6-15 digits, any grouping) with a phone cue before them on their line, or as the
    label of the line before, or just after them on their line ("555 0100 (mobile)")."""
    spans = []
    for match in NATIONAL_PHONE.finditer(text):
        if not NATIONAL_PHONE_DIGITS[0] <= _digits(match.group()) <= NATIONAL_PHONE_DIGITS[1]:
            continue
        if _ROUND_QUANTITY.fullmatch(match.group()) or is_date_or_reference(text, *match.span()):
            continue
        line_start, line_end = line_bounds(text, *match.span())
        before = text[max(line_start, match.start() - _CUE_WINDOW) : match.start()]
        after = text[match.end() : min(match.end() + 15, line_end)]
        previous_line = text[text.rfind("\n", 0, max(line_start - 1, 0)) + 1 : max(line_start - 1, 0)]
        if (
            _CUE.search(before)
            or _ADJACENT_CUE.search(before)
            or _AFTER_CUE.search(after)
            or (line_start and len(previous_line) <= 30 and _CUE.search(previous_line))
            or _is_contact_item(text, *match.span(), line_start, line_end)
        ):
            spans.append(match.span())
    return spans


# --- international street addresses ------------------------------------------------------------

# Street-type words that come before the street name (FR, ES/PT/BR/MX, IT, PL, CZ, NL, RO, TR, ...).
_TYPE_BEFORE = (
    r"rue|avenue|av\.?|ave\.?|boulevard|bd\.?|blvd\.?|chemin|allée|allee|impasse|place|quai|route|cours|"
    r"calle|c/|avenida|avda\.?|paseo|plaza|camino|carrera|carretera|ronda|travesía|travesia|callejón|"
    r"rua|travessa|praça|praca|largo|estrada|alameda|rodovia|"
    r"via|viale|piazza|piazzale|corso|vicolo|strada|"
    r"ul\.?|ulica|al\.?|aleja|os\.?|osiedle|pl\.?|plac|"
    r"ulice|náměstí|nám\.?|třída|"
    r"strada|str\.|bulevardul|calea|sokak|sok\.?|cadde(?:si)?|cad\.?|mahallesi|mah\.?|"
    r"odos|leoforos|ulitsa|prospekt"
)
# Street-type words that follow the street name as a separate word (HU, Nordic, DE/NL spelled apart, English).
_TYPE_AFTER = (
    r"utca|u\.|út|útja|tér|tere|körút|krt\.?|köz|sétány|kapu|"
    r"gata|gatan|vej|vei|veien|vegen|väg|vägen|gade|allé|terrasse|plass|plads|torg|torget|"
    r"straße|strasse|str\.|weg|gasse|allee|platz|damm|ufer|"
    r"straat|laan|plein|gracht|kade|dreef|singel|"
    r"katu|kuja|polku|tori"
)
# English street words after the name, capitalized as addresses write them ("Main Street 12", "Baker St 3"):
# lower-case "close 3 deals" or "drive 2x growth" is prose.
_ENGLISH_TYPE_AFTER = r"Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Drive|Dr\.?|Crescent|Terrace|Boulevard|Blvd\.?"
# Street names written as one word with the type as suffix: Rantakatu, Lindenstrasse, Kirkeveien, Strandvej.
_COMPOUND_SUFFIX = (
    r"straße|strasse|str\.|gasse|allee|platz|damm|ufer|steig|weg|"
    r"straat|laan|plein|gracht|kade|dreef|singel|"
    r"gatan|gata|vägen|väg|gränd|vej|veien|vegen|vei|(?<!bri)(?<!ene)gade|stræde|stien|torget|bakken|"
    r"katu|tie|kuja|polku|tori|kaari|rinne|väylä|"
    r"utca|útja|körút"
)
# Words of at most 64 characters, taken whole (possessive: a word is always followed by a space or a comma,
# never by more word): every start in a long dotted run ("A.A.A...") would otherwise rescan the run.
_WORD = r"[^\W\d_][\w'’.-]{0,63}+"
_CAP_WORD = r"[A-ZÀ-ÖØ-Þ\u0100-\u024f][\w'’.-]{0,63}+"
# Lower-case particles of street names (rue des Lilas, via del Corso, Rua da Praia, Unter den Linden).
_PARTICLE = (
    r"(?:(?:de|del|della|delle|dei|degli|di|da|das|do|dos|du|des|la|le|les|los|las|el|y|e|"
    r"van|von|der|den|dem|het|am|an|im|zum|zur|auf)(?![\w'’])|[dl]['’](?=[^\W\d_]))"
)
# English function words never sit inside a street name; in prose they do ("via Redis caching by 40",
# "place in 2021", "route traffic across 3", "et al. Nature 12").
_FUNCTION_WORD = (
    r"(?:and|or|in|by|for|with|across|to|of|the|from|on|at|into|over|per|than|a|an|as|is|was|were)(?![\w'’])"
    r"|et[ \t]+al\b"
)
# A house number: not a span of years ("2008-2012", "2016 - 2021") and not glued to a unit ("2TB").
_YEAR_RANGE = (
    r"(?:19|20)\d\d[ \t]*[-–/][ \t]*(?:(?:19|20)?\d\d\b|(?i:present|current|now|today|heute|actualidad|atual|oggi))"
)
_HOUSE_NUMBER = rf"(?!{_YEAR_RANGE})\d{{1,5}}[A-Za-z]?(?:[ \t]*[-/][ \t]*\d{{1,5}}[A-Za-z]?)?\.?(?![\dA-Za-z])"
# "n. 12", "nº 120", "No. 45" before the number.
_NUMBER_SIGN = r"(?:(?:n\.|nº|n°|no\.|nr\.?|№)[ \t]*)?"
# A number followed by hours, credits or a count noun is a course's length or a count, not a house number:
# "Corso Java avanzato 120 ore", "via HackerRank 3 times", "Alameda County 3 year plan".
_NOT_A_DURATION = (
    r"(?![ \t]*%|[ \t]*(?i:ore|hours?|hrs?|h|horas|heures|stunden|std|ects|cfu|crediti|credits?|créditos|"
    r"times|x|per|days?|weeks?|months?|years?|yrs?|stars?|points?|people|users|teams?|members|students)\b)"
)
# The house number ends the address item: a comma, a line end, a bracket, a postcode or a capitalized word
# follow, not a lower-case word ("move to Java 17 and Spring", "address Question 2 from the ad").
_ITEM_END = r"(?=[ \t]*(?:[,;(\n/|·]|\.?[ \t]*(?:\n|$)|$|\d{4,5}\b))"
# After a cue that also moves products ("moved to Spring Boot 3."), a comma, a line break or a postcode must follow.
_WEAK_CUE_END = r"(?=[ \t]*(?:[,;(\n]|\d{4,5}\b))"
_NO_LOWER_WORD_AFTER = r"(?![ \t]+(?!(?:in|near|at|on|is|was|with|where)\b)[a-z])"
UNIT = (
    r"(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Room|Rm\.?|Floor|Fl\.?|Bldg\.?|Building|Piso|Étage|Whg\.?|lok\.?|m\.)"
)
# "Suite 6" alone is a product ("Adobe Creative Suite 6"): a suite needs a '#' or an address around it.
STANDALONE_UNIT = r"(?:Apt\.?|Apartment|Flat|Bldg\.?|Piso|Étage|Whg\.?)"
_NAME_WORD = rf"(?:{_CAP_WORD}|[dl]['’]{_CAP_WORD}|{_PARTICLE}|\d{{1,3}}\.)"
# After a street-type word: a capitalized word or a particle first, then words none of which is a function word.
_STREET_NAME = rf"(?:(?!{_FUNCTION_WORD}){_WORD}[ \t]+){{0,4}}(?!{_FUNCTION_WORD}){_WORD}"
_CAPITALIZED_NAME = rf"(?=(?:{_CAP_WORD}|{_PARTICLE}|\d{{1,3}}\.)[ \t,]|[dl]['’]){_STREET_NAME}"
# A street name in lower case ("avenida praia 1, ...") is one only if its number ends the item or a unit follows.
_ITEM_OR_UNIT_END = rf"(?:{_ITEM_END}|(?=[ \t]*(?i:{UNIT})[ \t]*#?[ \t]*\d))"
# Before the number: a comma, or a space and no year ("Calle Ocho Festival 2019", "Corso di Laurea 2018").
_BEFORE_NUMBER = r"(?:,[ \t]*|[ \t]+(?!(?:19[5-9]\d|20[0-4]\d)\b))"
_TYPE_FIRST_NAME = (
    rf"(?:{_CAPITALIZED_NAME}{_BEFORE_NUMBER}{_NUMBER_SIGN}{_HOUSE_NUMBER}"
    rf"|{_STREET_NAME}{_BEFORE_NUMBER}{_NUMBER_SIGN}{_HOUSE_NUMBER}{_ITEM_OR_UNIT_END}){_NOT_A_DURATION}"
)
# How German streets without a type word begin: Am Markt, Unter den Linden, An der Alster, Lange Reihe.
_GERMAN_STREET_START = (
    r"(?:Am|An|Auf|Im|In|Unter|Hinter|Vor|Zum|Zur|Beim|Bei|Alt|Alte|Alter|Altes|Neue|Neuer|Neues|Große|Grosse|"
    r"Kleine|Lange|Hohe|Breite|Obere|Untere)(?![\w'’])"
)
_FRENCH_TYPE = r"rue|avenue|av\.|boulevard|bd\.?|chemin|allée|allee|impasse|place|quai|route|cours|square|passage"
INTERNATIONAL_STREET_PATTERNS: dict[str, str] = {
    # rue des Lilas 12, Rua da Praia 40, via del Corso 7, ul. Polna 3, calle Mayor, 5. Not after "et" (et al.);
    # "R." is an initial unless the number follows a comma ("R. Augusta, 1500"): see type_first_r.
    "type_first": rf"(?<![Ee]t )(?i:\b(?:{_TYPE_BEFORE}))[ \t]+{_TYPE_FIRST_NAME}",
    "type_first_r": rf"\b(?:R\.|r\.)[ \t]+{_CAPITALIZED_NAME},[ \t]*{_NUMBER_SIGN}{_HOUSE_NUMBER}{_NOT_A_DURATION}",
    # French, number first, with the postcode and town after it: 8 avenue des Tilleuls\n69002 Lyon; without a
    # postcode, a type word that is no English word and the end of the item: 18 rue de la Gare, Lille
    "number_first": rf"\b\d{{1,4}}(?:[ \t]*(?:bis|ter))?,?[ \t]+(?:(?i:\b(?:{_FRENCH_TYPE}))[ \t]+{_CAPITALIZED_NAME}"
    rf"(?=[ \t]*,?[ \t]*\n?[ \t]*\d{{5}}[ \t]+{_CAP_WORD})|(?i:\b(?:rue|boulevard|bd\.?|chemin|allée|impasse|quai))"
    rf"[ \t]+(?:{_NAME_WORD}[ \t]+){{0,4}}{_CAP_WORD}(?=[ \t]*(?:[,;\n]|$)))",
    # Colombian grid addresses: street number, then '#' and the cross street and distance (Calle 93 # 11-26)
    "grid": r"\b(?i:calle|cl\.|carrera|cra\.?|kr\.|avenida|av\.|diagonal|dg\.|transversal|tv\.)[ \t]*\d{1,3}[A-Za-z]?"
    r"(?:[ \t]+(?i:bis|sur|norte|este|oeste))?[ \t]*(?:#|(?i:no\.|n[º°]))[ \t]*\d{1,3}[A-Za-z]?[ \t]*-[ \t]*\d{1,3}\b",
    # Indonesian and Malaysian: Jl. Sudirman No. 45
    "jalan": rf"\b(?:Jl\.|Jln\.?|Jalan)[ \t]+{_CAPITALIZED_NAME}[ \t]+(?i:no\.?)[ \t]*\d{{1,5}}[A-Za-z]?\b",
    # Rantakatu 4, Lindenstrasse 9, Strandvej 21, Fő utca 2
    "compound": rf"\b[^\W\d_]{{2,}}(?i:{_COMPOUND_SUFFIX})[ \t]+{_HOUSE_NUMBER}",
    # Solbakken terrasse 6, Fő u. 2., Karl Johans gate 22 (Norwegian "gate" in lower case: "Stage Gate 3" is not)
    "type_after": rf"(?:\b{_CAP_WORD}[ \t]+){{0,2}}\b{_WORD}[ \t]+(?:(?i:(?:{_TYPE_AFTER}))|gate)(?!\w)[ \t]+"
    rf"{_HOUSE_NUMBER}",
    # Philippine subdivisions number a lot within its block (Blk 4 Lot 9, Phase 2), then name the street; rural
    # addresses open with the barangay's zone and hamlet (Purok 3, Sitio <name>). The barangay and town after stay.
    "philippine": rf"\b(?:Blk|Block)\.?[ \t]*\d{{1,4}}[A-Za-z]?,?[ \t]+Lot\.?[ \t]*\d{{1,4}}[A-Za-z]?"
    rf"(?:,?[ \t]+Phase[ \t]*\d{{1,2}}[A-Za-z]?)?(?:,[ \t]*(?:{_CAP_WORD}[ \t]+){{1,3}}(?:{_ENGLISH_TYPE_AFTER}))?"
    rf"|\bPurok[ \t]*\d{{1,3}}[A-Za-z]?\b(?:,[ \t]*Sitio[ \t]+{_CAP_WORD}(?:[ \t]+{_CAP_WORD})?)?",
    # Main Street 12, High St 3; not a year ("Blood Drive 2023") nor before a lower-case word ("Drive 2 times")
    "english_after": rf"(?:\b{_CAP_WORD}[ \t]+){{0,2}}\b{_CAP_WORD}[ \t]+(?:{_ENGLISH_TYPE_AFTER})(?!\w)[ \t]+"
    rf"(?!(?:19[5-9]\d|20[0-4]\d)\b){_HOUSE_NUMBER}{_NO_LOWER_WORD_AFTER}",
    # Am Markt 3, 28195 Bremen; Unter den Linden 77, 10117 Berlin: no type word, but a postcode and a town
    # (two words at least, at the start of a line or after a colon: "Python 3, 10000 Users" is not one)
    "before_postcode": rf"(?<![\w.,-] )(?<![\w.,-])\b{_GERMAN_STREET_START}(?:[ \t]+{_NAME_WORD}){{1,3}}[ \t]+"
    rf"(?!(?:19|20)\d\d\b){_HOUSE_NUMBER}(?=,[ \t]*\d{{5}}[ \t]+{_CAP_WORD}[ \t]*(?:[,;\n]|$))",
    # Flat 3, Apt. 12, Suite #200 on their own. Not "Unit 3", "Room 101", "Floor 2" or "Building 7": in a resume
    # those are a course unit, a meeting room, a shop floor, a campus building; after a street they still count.
    # "Suite 6" is a product ("Adobe Creative Suite 6") unless it opens a line, follows a number or comes before
    # a house number and a street.
    "unit": rf"\b(?:{STANDALONE_UNIT}[ \t]*#?|(?:Suite|Ste\.?)[ \t]*#)[ \t]*\d{{1,5}}[A-Za-z]?\b"
    rf"|(?:^|(?<=\n))[^\w\n]{{0,8}}(?P<suite>(?:Suite|Ste\.?)[ \t]*\d{{1,5}}[A-Za-z]?\b)(?=[ \t]*(?:[,;\n]|$))"
    rf"|(?<=\d[ \t])(?:Suite|Ste\.?)[ \t]*(?!(?:19|20)\d\d\b)\d{{1,5}}[A-Za-z]?\b(?=[ \t]*(?:[,;\n]|$))"
    rf"|\b(?:Suite|Ste\.?)[ \t]*\d{{1,5}}[A-Za-z]?(?=,?[ \t]+\d{{1,6}}[A-Za-z]?[ \t]+{_CAP_WORD})",
    # Military mail: PSC 1000, Box 20 / Unit 1000 Box 20 / a ship (USS <name>), then APO/FPO/DPO AE 09000
    "military": r"(?i:\b(?:PSC|CMR|Unit)[ \t]+\d{3,5},?[ \t]+Box[ \t]+\d{1,5}\b|\b(?:USNS|USS|USCGC)[ \t]+[^\W\d_]+\b"
    r"|\b[ADF]PO[ \t]+A[AEP][ \t]+\d{5}\b)",
    # A street without a type word is still an address when a unit follows it: <Name> 12, Suite 3
    # (a unit numbered like a year, or before a lower-case word, is a product: "Windows 10 Suite 3 rollout")
    "before_unit": rf"\b{_CAP_WORD}(?:[ \t]+{_WORD}){{0,2}}[ \t]+{_HOUSE_NUMBER},?[ \t]*\n?[ \t]*"
    rf"(?={UNIT}[ \t]*#?[ \t]*(?!(?:19|20)\d\d\b)\d{{1,5}}[A-Za-z]?\b{_NO_LOWER_WORD_AFTER})",
    # ... or when the writer says it is one: "my address is <Name> 12", "Adresse: <Name> 3", "moved to <Name> 7",
    # if the number ends the item ("moved to Berlin in 2019", "move to Java 17 and Spring Boot 3" are prose)
    "after_cue": rf"(?i:\b(?:address(?:es)?|adresse|anschrift|dirección|direccion|endereço|indirizzo|adres|osoite|adress|"
    rf"live at|living at|lives at|located at|(?P<weak>moved to|move to|send (?:it|them|this|everything) to|"
    rf"ship(?:ped)? to|deliver(?:ed)? to|mail(?:ed)? to|return (?:it )?to))(?: is)?[ \t]*:?[ \t]+)"
    rf"(?P<cued>(?:\d{{1,6}}[ \t]+)?{_CAP_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}}[ \t]+{_NUMBER_SIGN}{_HOUSE_NUMBER}"
    rf"(?(weak){_WEAK_CUE_END}|{_ITEM_END}))",
    # In a chat, in lower case: "i live at 45 oak street", "we moved to 12 elm rd"
    "chat_cue": r"(?i:\b(?:live|living|lives|stay|staying|moved|located)[ \t]+(?:at|on|to|in)[ \t]+)"
    r"(?P<chat>\d{1,6}[A-Za-z]?[ \t]+[a-z][a-z'-]{1,30}+(?:[ \t]+[a-z][a-z'-]{1,30}+){0,2}[ \t]+"
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|court|ct|way|terrace|crescent)"
    r"\b\.?)",
}
INTERNATIONAL_STREET = re.compile("|".join(f"(?:{p})" for p in INTERNATIONAL_STREET_PATTERNS.values()))
_LEADING_NUMBER = re.compile(r"\d{1,6}(?:[ \t]+\d{1,6})?[ \t]+$")
_TRAILING_UNIT = re.compile(rf",?[ \t]*\n?[ \t]*{UNIT}[ \t]*#?[ \t]*\d{{1,5}}[A-Za-z]?\b")
_BLOCK_LINE_CHARS = 40
_BLOCK_LINES = 4


def extend_address(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a street match to its whole address: a number before it (postcode or building), a unit after it,
    and the following short lines of its block up to the last one holding a digit (postcode lines)."""
    leading = _LEADING_NUMBER.search(text, max(0, start - 16), start)
    if leading:
        start = leading.start()
    while unit := _TRAILING_UNIT.match(text, end):  # "Suite 991 Suite 636" happens
        end = unit.end()
    line_end = text.find("\n", end)
    block_end = end
    for _ in range(_BLOCK_LINES):
        if line_end == -1 or text[block_end:line_end].strip(" ,.;"):
            break  # the address line goes on with other text: not a block
        next_end = text.find("\n", line_end + 1)
        line = text[line_end + 1 : len(text) if next_end == -1 else next_end]
        if not line.strip() or len(line) > _BLOCK_LINE_CHARS:
            break
        last_digit = re.search(r"\d[\w-]*(?!.*\d)", line)
        if last_digit:  # the postcode goes; words after it on the line ("in case of ...") stay
            end = line_end + 1 + last_digit.end()
        block_end, line_end = line_end + 1 + len(line), next_end
    return start, end


# --- Indian addresses --------------------------------------------------------------------------

# Comma-separated parts, house first: "Flat No. 611, Nilgiri Enclave, Madhapur, Hyderabad - 500081",
# "#27, 4th Main, 9th Cross, Indiranagar", "Door No: 5/123, Gandhi Street". Written from India Post's
# addressing conventions: a house-number label, a house number opening a line (or following a colon) before a
# comma, or a Kerala house name, then parts up to the last that names a street, a building or a locality by its
# type word (cross, main, nagar, layout, sector, residency ...). The parts after it (area, city, state, PIN code)
# stay, as a city after a US street does. A bare number needs such a part among the next two.
_IN_HOUSE_LABEL = r"(?i:\b(?:h\.?[ \t]?no|house[ \t]+no|flat[ \t]+no|door[ \t]+no|plot[ \t]+no|d\.[ \t]?no|shop[ \t]+no|block[ \t]+no|q(?:t)?rs?\.?[ \t]+no|quarter[ \t]+no)\b\.?)[ \t]*[:.-]?[ \t]*"
_IN_HOUSE_NUMBER = r"#?[ \t]*(?:[A-Za-z]{1,2}[ \t]*[-/][ \t]*)?\d{1,5}[A-Za-z]?(?:[ \t]*[-/][ \t]*(?:\d{1,5}[A-Za-z]?|[A-Za-z]\b)){0,3}"
# A bare "No." is a house-number label only where a bare number could be one: "No. 14, 2nd Cross, ..."
# ("Ticket No. 4829173" is not). A care-of line may hold the address itself: "C/o 12, Sadashiv Peth".
# A Kerala house goes by its name ("<Name> House", "<Name> (H)"): a house only with a post office or a PIN code
# later on its line ("Trust House", "Lead Product House" are employers and titles).
_IN_HOUSE_NAME = (
    r"(?:[A-Z][\w'’-]{1,30}+[ \t]+){1,3}(?:House|\(H\))"
    r"(?=[ \t]*,[^\n]{0,120}?(?:\bP\.?[ \t]?O\b|(?<!\d)\d{3}[ \t]?\d{3}(?!\d)))"
)
# After an address label the first part is the address's, whatever it holds ("Address: Sunrise Villa, MG Road"), and
# a line may open with its locality or landmark ("Mohalla – Rampur, Near Kali Mandir, Gaya"): both need a type
# word. A house number with a slash or hyphen may also follow a comma ("Sunrise Villa, 2-14/3, MG Road").
_IN_START = re.compile(
    rf"{_IN_HOUSE_LABEL}(?P<labeled>{_IN_HOUSE_NUMBER})"
    rf"|(?:^|(?<=:))[ \t]*(?:(?i:c/o)\.?[ \t]+)?(?P<bare>(?:No\.[ \t]*)?{_IN_HOUSE_NUMBER})[ \t]*(?=,)"
    rf"|(?<=,)[ \t]*(?!{_YEAR_RANGE})(?P<slashed>\d{{1,5}}[A-Za-z]?(?:[ \t]*[-/][ \t]*\d{{1,5}}[A-Za-z]?){{1,3}})[ \t]*(?=,)"
    rf"|(?:^|(?<=[:,]))[ \t]*(?P<house>{_IN_HOUSE_NAME})"
    rf"|(?i:\b(?:address|addr|add)\b\.?)[ \t]*:[ \t]*(?P<addressed>[^,:\n]{{1,48}}+)(?=,)"
    rf"|(?:^|(?<=:))[ \t]*(?P<lead>(?:Mohalla|Vill(?:age)?|Near|Opp\.?|Opposite|Behind)\b[^,\n]{{0,48}}+)(?=,)",
    re.MULTILINE,
)
# Starts that are an address only before a part with a type word (or, for the last two, holding one).
_IN_WEAK_STARTS = frozenset({"bare", "slashed", "addressed", "lead"})
# A part: up to 48 characters without a comma or a line break; a part ending in a comma may go on on the next line.
_IN_PART = re.compile(r"[ \t]*,[ \t]*\n?[ \t]*(?P<part>[^,\n]{1,48})")
_IN_TYPE_WORD = re.compile(
    r"\b\d{1,2}(?:st|nd|rd|th)[ \t]+(?:Cross|Main|Block|Stage|Phase|Sector)\b"
    r"|\b(?:Cross|Main|Road|Rd|Street|St|Marg|Salai|Nagar|Layout|Colony|Sector|Block|Stage|Phase|Enclave|Vihar|"
    r"Puram|Bagh|Baug|Gali|Galli|Lane|Chowk|Peth|Wadi|Wada|Pada|Gaon|Gaun|Kottai|Bazaa?r|Mohalla|Residency|"
    r"Apartments?|Apts|Flats|Crescent|Society|Towers?|Complex|Heights|Extension|Extn|Bhavan|Niwas|Sadan|Kunj|Village|Vill|Tehsil|"
    r"Taluka?|Mandal)\b\.?"
    # English words that also name brands and exams ("Avenue Supermarts", "Gate 2019") only as the part's last word
    r"|\b(?:Avenue|Causeway|Gate|Park)$"
    r"|^(?:Near|Opp\.?|Opposite|Behind|Beside)\b|^(?:P\.?[ \t]?O|Dist|Post)\b\.?"
    # A post office after its place ("<Place> P.O."), as Kerala addresses name it
    r"|\bP\.[ \t]?O\.?$|\bPO$"
)
_IN_MAX_PARTS = 6


def indian_address_spans(text: str) -> list[tuple[int, int]]:
    spans, position = [], 0
    while start := _IN_START.search(text, position):
        end = part_start = start.end()
        for index in range(_IN_MAX_PARTS):
            part = _IN_PART.match(text, part_start)
            if not part:
                break
            part_start = part.end()
            if _IN_TYPE_WORD.search(part.group("part").strip()):
                end = part.end("part")
            elif start.lastgroup in _IN_WEAK_STARTS and index == 1 and end == start.end():
                break  # "2019, Acme Corp, Pune": a number before a comma is a house only before a street or a building
        first = start.group(start.lastgroup)
        if start.lastgroup not in _IN_WEAK_STARTS or end > start.end() or _IN_TYPE_WORD.search(first.strip()):
            spans.append((start.start(start.lastgroup), end))
            position = start.end()
        else:  # an address label's value may still open with a labeled house number ("Address: D.No. 4-1, …")
            position = start.start(start.lastgroup) if start.lastgroup == "addressed" else start.end()
    return spans


def names_indian_locality(value: str) -> bool:
    """Whether ``value`` names a street, building or locality by an Indian address's type word ("MG Road")."""
    return bool(_IN_TYPE_WORD.search(value.strip()))


def international_address_spans(text: str) -> list[tuple[int, int]]:
    # The address cue itself ("address is") is not part of the address.
    return [
        extend_address(text, *m.span(next((group for group in ("cued", "chat", "suite") if m.group(group)), 0)))
        for m in INTERNATIONAL_STREET.finditer(text)
    ] + indian_address_spans(text)
