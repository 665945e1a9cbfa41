"""Labelled test queries for child search, made by corrupting true records the way real searches are.

A practitioner rarely types a child's record exactly: names arrive misspelt, respelt by ear,
shortened to what the child is called, swapped, or changed when a carer's surname changed; the
date of birth is mistyped day-for-month; the child has moved; a field is left blank. ``corrupt``
applies such changes at independent per-query rates and labels what it did, so evaluation can
break results down by the kind of difficulty.

Deterministic: every random choice comes from the ``random.Random`` passed in (or seeded from
``seed``); nothing iterates over a set.

Labels name the *true* field that was changed: after a later "swap", a "typo:family_name" value
sits in the given-name box.
"""
from __future__ import annotations

import datetime
import random
import re
from typing import Iterable, Mapping, Sequence

from analyzers import clock, damerau_levenshtein
from analyzers.dates import parse_iso_date

from .criteria import meets_minimum  # the API's own rule: a judgment is a query the API would accept
from .evaluation import Judgment

DEFAULT_RATES = {
    "typo": 0.20,
    "phonetic": 0.10,
    "nickname": 0.10,
    "swap": 0.02,
    "missing": 0.15,
    "dob": 0.08,
    "moved": 0.10,
    "surname_change": 0.04,
}
# The order corruptions are applied in. "missing" goes first so that no later label describes a
# field that is then dropped; "swap" comes after the name changes, which label the true field.
ORDER = ("missing", "surname_change", "nickname", "phonetic", "typo", "swap", "dob", "moved")
# A heavily corrupted search: a family name two slips away (or both names misspelt and swapped)
# and a date of birth one slip away, with the given name (or a known variant), gender and postcode
# kept. Not in DEFAULT_RATES and replaces the ordinary corruptions when drawn, so the everyday mix
# (and every judgment set made without it) stays what it was; benchmarks ask for it separately.
HEAVY = "heavy"
HEAVY_KINDS = ("family_name", "swap")
HEAVY_NICKNAME_RATE = 0.3
NAME_FIELDS = ("given_name", "family_name")
MISSABLE_FIELDS = ("date_of_birth", "given_name", "gender", "postcode")
MIN_TYPO_LETTERS = 4
DOB_DIGIT_MAX_YEARS_BACK = 17      # a mistyped year that makes the child 18+ is refused by the API (400), not searched

# --- Nicknames and variants --------------------------------------------------------------------
# The name on the record -> what a practitioner might type instead (short forms, the formal name
# behind a short form, spelling variants, anglicised forms).
NICKNAMES: dict[str, tuple[str, ...]] = {
    # English
    "William": ("Bill", "Will", "Billy", "Liam"), "Elizabeth": ("Beth", "Lizzie", "Libby", "Eliza", "Liz"),
    "Alexander": ("Alex", "Xander", "Sandy"), "Alexandra": ("Alex", "Lexi", "Sasha"),
    "Katherine": ("Kate", "Katie", "Kathy", "Kat"), "Catherine": ("Kate", "Cathy", "Cath"),
    "Thomas": ("Tom", "Tommy"), "James": ("Jim", "Jimmy", "Jamie"), "Oliver": ("Ollie", "Olly"),
    "Jessica": ("Jess", "Jessie"), "Rebecca": ("Becky", "Becca"), "Charlotte": ("Lottie", "Charlie"),
    "Samuel": ("Sam", "Sammy"), "Benjamin": ("Ben", "Benji"), "Daniel": ("Dan", "Danny"),
    "Joseph": ("Joe", "Joey"), "Matthew": ("Matt", "Matty"), "Edward": ("Ed", "Eddie", "Ted"),
    "Abigail": ("Abbie", "Abby"), "Eleanor": ("Ellie", "Nell", "Nora"), "Isabella": ("Bella", "Izzy", "Isabel"),
    "Harriet": ("Hattie", "Hatty"), "Joshua": ("Josh",), "Jacob": ("Jake",), "Henry": ("Harry", "Hal"),
    "Harry": ("Henry",), "Frederick": ("Fred", "Freddie"), "Freddie": ("Fred", "Frederick"),
    "Alfie": ("Alfred", "Alf"), "Charlie": ("Charles",), "Charles": ("Charlie", "Chas"), "Theo": ("Theodore",),
    "Archie": ("Archibald",), "Harrison": ("Harry",), "Lucas": ("Luke",), "Louis": ("Lou",), "Callum": ("Cal",),
    "Toby": ("Tobias",), "Max": ("Maximilian", "Maxwell"), "Finley": ("Finn",), "Jayden": ("Jay",),
    "Emily": ("Em", "Emmy"), "Amelia": ("Millie", "Amy"), "Olivia": ("Liv", "Livvy"), "Sophia": ("Sophie",),
    "Sophie": ("Sophia",), "Florence": ("Flo", "Florrie"), "Matilda": ("Tilly", "Tilda"), "Megan": ("Meg",),
    "Hannah": ("Hanna",), "Rosie": ("Rose",), "Lucy": ("Lucie",), "Alice": ("Allie",), "Evie": ("Eve", "Eva"),
    "Grace": ("Gracie",), "Ella": ("Ellie",), "Lily": ("Lilly", "Lillie"), "Michael": ("Mike", "Mikey"),
    "Robert": ("Rob", "Bob", "Bobby"), "Richard": ("Rich", "Ricky"), "Christopher": ("Chris", "Kit"),
    "Nicholas": ("Nick", "Nicky"), "Anthony": ("Tony",), "Andrew": ("Andy", "Drew"), "Stephen": ("Steve",),
    "Peter": ("Pete",), "David": ("Dave", "Davey"), "Jonathan": ("Jon", "Jonny"), "Timothy": ("Tim",),
    "Patrick": ("Pat", "Paddy"), "Margaret": ("Maggie", "Peggy", "Meg"), "Jennifer": ("Jenny", "Jen"),
    "Victoria": ("Vicky", "Tori"), "Gabriel": ("Gabe",), "Nathaniel": ("Nate", "Nathan"),
    "Zachary": ("Zach", "Zac"), "Dominic": ("Dom",), "Sebastian": ("Seb",), "Leonard": ("Leo", "Len"),
    "Arthur": ("Artie",), "George": ("Georgie",), "Jack": ("John",), "Reuben": ("Ruben",),
    # Other communities
    "Mohammed": ("Muhammad", "Mohamed", "Mohammad", "Mo"), "Muhammad": ("Mohammed", "Mohamed", "Mo"),
    "Mohamed": ("Mohammed", "Muhammad", "Mo"), "Siobhan": ("Shivaun", "Shevaun"), "Aleksander": ("Olek", "Alek", "Alex"),
    "Małgorzata": ("Gosia", "Margaret"), "Katarzyna": ("Kasia", "Kate"), "Zuzanna": ("Zuzia",),
    "Wojciech": ("Wojtek",), "Łukasz": ("Luke",), "Jakub": ("Kuba", "Jacob"), "Piotr": ("Peter",),
    "Michał": ("Michael",), "Filip": ("Philip",), "Kacper": ("Kasper",), "Andrei": ("Andrew", "Andrey"),
    "Alexandru": ("Alex",), "Oluwaseun": ("Seun", "Sean"), "Oluwadamilare": ("Dami",), "Chukwuemeka": ("Emeka",),
    "Babatunde": ("Tunde",), "Temitope": ("Tope", "Temi"), "Funmilayo": ("Funmi",), "Adebayo": ("Bayo",),
    "Ayodele": ("Ayo",), "Chiamaka": ("Amaka",), "Adaeze": ("Ada",), "Abdirahman": ("Abdi",),
    "Abdullahi": ("Abdullah", "Abdi"), "Yusuf": ("Yousef", "Youssef", "Joseph"), "Ibrahim": ("Ebrahim", "Abraham"),
    "Aisha": ("Ayesha", "Aysha"), "Fatima": ("Fatimah",), "Zainab": ("Zaynab",), "Maryam": ("Mariam", "Mary"),
    "Khadija": ("Khadijah",), "Hussain": ("Hussein", "Husain"), "Hassan": ("Hasan",), "Osman": ("Usman",),
    "Omar": ("Umar",), "Dafydd": ("Dai", "David"), "Gruffydd": ("Gruff",), "Ieuan": ("Evan",),
    "Siân": ("Sian", "Shan"), "Alasdair": ("Ally", "Alistair"), "Elspeth": ("Elsie",), "Ishbel": ("Isobel",),
    "Catriona": ("Katrina", "Cat"), "Seán": ("Sean", "Shaun"), "Pádraig": ("Patrick", "Paddy"),
    "Eoin": ("Owen",), "Niamh": ("Neve", "Neave"), "Caoimhe": ("Keeva",), "Ruairí": ("Rory",),
    "Ciarán": ("Kieran",), "Gráinne": ("Grace",),
}
_NICKNAMES_FOLDED = {name.casefold(): variants for name, variants in NICKNAMES.items()}

# --- Keyboard typos ---------------------------------------------------------------------------------
KEYBOARD_NEIGHBOURS = {
    "q": "wa", "w": "qeas", "e": "wrds", "r": "etdf", "t": "ryfg", "y": "tugh", "u": "yihj", "i": "uojk",
    "o": "ipkl", "p": "ol", "a": "qwsz", "s": "awedxz", "d": "serfcx", "f": "drtgvc", "g": "ftyhbv",
    "h": "gyujnb", "j": "huikmn", "k": "jiolm", "l": "kop", "z": "asx", "x": "zsdc", "c": "xdfv",
    "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk",
}
TYPO_KINDS = ("substitution", "transposition", "deletion", "insertion")

# --- Phonetic respellings -----------------------------------------------------------------------------
# (pattern matched case-insensitively, replacements); a replacement may use the match's groups.
_V = "aeiouy"
PHONETIC_RULES = tuple((re.compile(pattern, re.IGNORECASE), replacements) for pattern, replacements in (
    (r"ph", ("f",)),                                        # Sophia -> Sofia
    (rf"(?<=[{_V}])f(?=[{_V}])|^f(?=[{_V}])", ("ph",)),      # Filip -> Philip, Stefan -> Stephan
    (r"ck", ("k", "c")),                                    # Mackenzie -> Makenzie
    (r"(?<=[aeiou])k(?!k)", ("ck",)),                      # Jakub -> Jackub
    (r"ey$", ("y", "ie")),                                  # Riley -> Rily, Rilie
    (rf"(?<=[^{_V}])y$", ("ey", "ie")),                     # Toby -> Tobey, Tobie
    (r"ie$", ("y", "ey")),                                  # Katie -> Katy, Katey
    (r"ou", ("ow",)), (r"ow", ("ou",)),                     # Bowen -> Bouen
    (r"son$", ("sen",)), (r"sen$", ("son",)),               # Jenson <-> Jensen
    (r"c(?=[aou])", ("k",)),                                # Callum -> Kallum
    (r"(?<!c)k(?=[aou])", ("c",)),                          # Kacper -> Cacper
    (r"([bcdfgklmnprstz])\1", (r"\1",)),                    # Matthew -> Mathew, Harriet -> Hariet
    (rf"(?<=[aeiou])([bdglmnprt])(?=[{_V}])", (r"\1\1",)),  # Oliver -> Olliver
    (r"th", ("t",)),                                        # Thomas -> Tomas
    (rf"(?<=[{_V}])s(?=[{_V}])", ("z",)),                   # Isabella -> Izabella
    (rf"(?<=[{_V}])z(?=[{_V}])", ("s",)),                   # Zuzanna -> Zusanna
))

# --- Postcodes for children who moved ------------------------------------------------------------------
POSTCODE_AREAS = (("W", 14), ("SW", 20), ("NW", 11), ("WC", 2), ("E", 20), ("N", 22), ("SE", 28), ("HA", 9),
                  ("LS", 29), ("BD", 22), ("M", 40), ("B", 99), ("L", 38), ("S", 36), ("NE", 15), ("NG", 11),
                  ("LE", 5), ("BS", 16), ("HU", 9), ("PL", 9), ("ME", 20), ("CT", 21), ("TN", 40), ("DA", 18))
_AREA_MAX_DISTRICT = dict(POSTCODE_AREAS)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
LOCAL_MOVE_RATE = 0.6              # moved within the same postcode area
_POSTCODE_AREA = re.compile(r"^([A-Z]{1,2})[0-9]")


# --- Helpers ---------------------------------------------------------------------------------------------
def _present(criteria: Mapping, key: str) -> bool:
    value = criteria.get(key)
    return value is not None and value != ""


def _letters(name: str) -> int:
    return sum(1 for c in name if c.isalpha())


def _same_case(replacement: str, original: str) -> str:
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _typo_candidates(name: str, kind: str) -> list[str]:
    """Every single-edit misspelling of ``name`` of one kind, never touching the first letter."""
    found: list[str] = []
    n = len(name)
    if kind == "substitution":
        for i in range(1, n):
            for key in KEYBOARD_NEIGHBOURS.get(name[i].lower(), ""):
                found.append(name[:i] + _same_case(key, name[i]) + name[i + 1:])
    elif kind == "transposition":
        for i in range(1, n - 1):
            a, b = name[i], name[i + 1]
            if a.isalpha() and b.isalpha() and a != b:
                found.append(name[:i] + b + a + name[i + 2:])
    elif kind == "deletion":
        for i in range(1, n):
            if name[i].isalpha():
                found.append(name[:i] + name[i + 1:])
    elif kind == "insertion":       # a neighbouring key, or the same key twice, after a letter
        for i in range(1, n + 1):
            before = name[i - 1]
            if before.isalpha():
                for key in before.lower() + KEYBOARD_NEIGHBOURS.get(before.lower(), ""):
                    found.append(name[:i] + key + name[i:])
    return [candidate for candidate in dict.fromkeys(found) if candidate != name]


def typo(name: str, rng: random.Random) -> str | None:
    """One keyboard slip (Damerau-Levenshtein distance 1) after the first letter; None if too short."""
    if _letters(name) < MIN_TYPO_LETTERS:
        return None
    return _slip(name, rng)


def _slip(name: str, rng: random.Random) -> str | None:
    first = rng.choice(TYPO_KINDS)
    for kind in (first,) + tuple(k for k in TYPO_KINDS if k != first):
        candidates = _typo_candidates(name, kind)
        if candidates:
            return rng.choice(candidates)
    return None


def _replacement(match: re.Match, template: str) -> str:
    return _same_case(match.expand(template), match.group(0))


def phonetic_variants(name: str) -> list[str]:
    """Every respelling of ``name`` by one phonetic rule that sounds alike but is spelt differently."""
    found: list[str] = []
    for pattern, replacements in PHONETIC_RULES:
        for match in pattern.finditer(name):
            for template in replacements:
                found.append(name[:match.start()] + _replacement(match, template) + name[match.end():])
    return [variant for variant in dict.fromkeys(found) if variant.casefold() != name.casefold()]


def nickname_variants(name: str) -> tuple[str, ...]:
    return NICKNAMES.get(name) or _NICKNAMES_FOLDED.get(name.casefold(), ())


def _transposed(day: datetime.date, today: datetime.date) -> datetime.date | None:
    if day.day > 12 or day.day == day.month:
        return None
    swapped = day.replace(month=day.day, day=day.month)
    return swapped if swapped <= today else None


def _digit_changes(iso: str, today: datetime.date) -> list[str]:
    earliest_year = today.year - DOB_DIGIT_MAX_YEARS_BACK
    found = []
    for i, char in enumerate(iso):
        if not char.isdigit():
            continue
        for digit in "0123456789":
            if digit == char:
                continue
            candidate = iso[:i] + digit + iso[i + 1:]
            try:
                day = parse_iso_date(candidate)
            except ValueError:
                continue
            if earliest_year <= day.year and day <= today:
                found.append(candidate)
    return found


def _new_postcode(rng: random.Random, old: str) -> str:
    old_compact = "".join(old.split()).upper()
    match = _POSTCODE_AREA.match(old_compact)
    local = match and rng.random() < LOCAL_MOVE_RATE
    for _ in range(20):
        if local:
            area = match.group(1)
            max_district = _AREA_MAX_DISTRICT.get(area, 20)
        else:
            area, max_district = rng.choice(POSTCODE_AREAS)
        letters = "".join(rng.choice(INWARD_LETTERS) for _ in range(2))
        postcode = f"{area}{rng.randint(1, max_district)} {rng.randint(0, 9)}{letters}"
        if postcode.replace(" ", "") != old_compact:
            return postcode
    raise AssertionError("could not find a different postcode")   # pragma: no cover - ~impossible


# --- Corruptions ------------------------------------------------------------------------------------------
def _missing(c: dict, rng: random.Random, surnames, today) -> str | None:
    droppable = [key for key in MISSABLE_FIELDS
                 if _present(c, key) and meets_minimum({k: v for k, v in c.items() if k != key})]
    if not droppable:
        return None
    key = rng.choice(droppable)
    del c[key]
    return f"missing:{key}"


def _surname_change(c: dict, rng: random.Random, surnames, today) -> str | None:
    if not _present(c, "family_name"):
        return None
    current = c["family_name"].casefold()
    others = [name for name in surnames if name and name.casefold() != current]
    if not others:
        return None
    c["family_name"] = rng.choice(others)
    return "surname_change"


def _nickname(c: dict, rng: random.Random, surnames, today) -> str | None:
    variants = nickname_variants(c["given_name"]) if _present(c, "given_name") else ()
    if not variants:
        return None
    c["given_name"] = rng.choice(variants)
    return "nickname"


def _phonetic(c: dict, rng: random.Random, surnames, today) -> str | None:
    options = [(key, variants) for key in NAME_FIELDS if _present(c, key)
               for variants in [phonetic_variants(c[key])] if variants]
    if not options:
        return None
    key, variants = rng.choice(options)
    c[key] = rng.choice(variants)
    return f"phonetic:{key}"


def _typo(c: dict, rng: random.Random, surnames, today) -> str | None:
    keys = [key for key in NAME_FIELDS if _present(c, key) and _letters(c[key]) >= MIN_TYPO_LETTERS]
    if not keys:
        return None
    key = rng.choice(keys)
    misspelt = typo(c[key], rng)
    if misspelt is None:
        return None
    c[key] = misspelt
    return f"typo:{key}"


def _swap(c: dict, rng: random.Random, surnames, today) -> str | None:
    if not (_present(c, "given_name") and _present(c, "family_name")):
        return None
    if c["given_name"].casefold() == c["family_name"].casefold():
        return None
    c["given_name"], c["family_name"] = c["family_name"], c["given_name"]
    return "swap"


def _dob(c: dict, rng: random.Random, surnames, today) -> str | None:
    if not _present(c, "date_of_birth"):
        return None
    try:
        day = parse_iso_date(c["date_of_birth"])
    except (TypeError, ValueError):
        return None
    transposed = _transposed(day, today)
    if transposed is not None:
        c["date_of_birth"] = transposed.isoformat()
        return "dob:transposed"
    changes = _digit_changes(day.isoformat(), today)
    if not changes:
        return None
    c["date_of_birth"] = rng.choice(changes)
    return "dob:digit"


def _moved(c: dict, rng: random.Random, surnames, today) -> str | None:
    if not _present(c, "postcode"):
        return None
    c["postcode"] = _new_postcode(rng, c["postcode"])
    return "moved"


def _two_typos(name: str, rng: random.Random) -> str | None:
    """Two keyboard slips after the first letter, exactly two edits from ``name``; None if too short."""
    for _ in range(10):
        once = typo(name, rng)
        twice = _slip(once, rng) if once else None   # a 4-letter name may be down to 3 after the first
        if twice is None:
            return None
        if damerau_levenshtein(name, twice) == 2:
            return twice
    return None


def _heavy(c: dict, rng: random.Random, surnames, today) -> str | None:
    """Garbled names plus a one-slip date of birth; the postcode and gender stay as they were."""
    if not all(_present(c, key) for key in ("given_name", "family_name", "date_of_birth", "postcode")):
        return None
    kind = rng.choice(HEAVY_KINDS)
    changed = dict(c)
    if kind == "family_name":
        misspelt = _two_typos(c["family_name"], rng) if _letters(c["family_name"]) >= MIN_TYPO_LETTERS else None
        variants = nickname_variants(c["given_name"])
        if variants and rng.random() < HEAVY_NICKNAME_RATE:
            changed["given_name"] = rng.choice(variants)
    else:   # each name of 4+ letters misspelt once, then the two swapped
        for key in NAME_FIELDS:
            changed[key] = typo(changed[key], rng) or changed[key]
        if changed == c or _swap(changed, rng, surnames, today) is None:
            return None
        misspelt = changed["family_name"]
    day = parse_iso_date(c["date_of_birth"])
    slips = _digit_changes(day.isoformat(), today)
    swapped = _transposed(day, today)
    slips += [swapped.isoformat()] if swapped else []
    if misspelt is None or not slips:
        return None
    changed["family_name"] = misspelt
    changed["date_of_birth"] = rng.choice(slips)
    c.update(changed)
    return f"{HEAVY}:{kind}"


_CORRUPTORS = {"missing": _missing, "surname_change": _surname_change, "nickname": _nickname,
               "phonetic": _phonetic, "typo": _typo, "swap": _swap, "dob": _dob, "moved": _moved, HEAVY: _heavy}


def _check_rates(rates: Mapping) -> None:
    for kind, rate in rates.items():
        if kind not in _CORRUPTORS:
            raise ValueError(f"unknown corruption {kind!r} (known: {', '.join(ORDER + (HEAVY,))})")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate for {kind!r} must be between 0 and 1, got {rate!r}")


def corrupt(criteria: dict, rng: random.Random, rates: Mapping[str, float] = DEFAULT_RATES,
            surnames: Sequence[str] = (), *, today: datetime.date | None = None) -> tuple[dict, tuple[str, ...]]:
    """A corrupted copy of ``criteria`` and the labels of what was done, in the order applied.

    Each kind happens independently with its rate (missing kinds count as 0) and is skipped,
    unlabelled, when it cannot apply (no nickname known, no name of 4+ letters, ...). A search
    always keeps a family name plus a given name or date of birth. ``today`` (default: the real
    today) bounds corrupted dates of birth.

    A "heavy" rate draws first, and only when given: a heavy corruption is the query's only one.
    """
    _check_rates(rates)
    today = clock.today() if today is None else today
    result = dict(criteria)
    if rates.get(HEAVY, 0.0) > 0.0 and rng.random() < rates[HEAVY]:
        label = _heavy(result, rng, surnames, today)
        if label:
            return result, (label,)
    labels = []
    rolls = [(kind, rng.random()) for kind in ORDER]       # one draw per ordinary kind, always
    for kind, roll in rolls:
        if roll < rates.get(kind, 0.0):
            label = _CORRUPTORS[kind](result, rng, surnames, today)
            if label:
                labels.append(label)
    return result, tuple(labels)


def true_criteria(child: Mapping) -> dict:
    """The search a practitioner would type with the record in front of them (absent values left out)."""
    criteria = {}
    for key in ("given_name", "family_name", "date_of_birth", "gender", "postcode"):
        value = child.get(key)
        if isinstance(value, datetime.date):
            value = value.isoformat()
        if value is not None and value != "":
            criteria[key] = str(value)
    return criteria


def generate_judgments(children: Iterable[tuple[str, Mapping]], count: int, seed: int,
                       rates: Mapping[str, float] = DEFAULT_RATES, *,
                       today: datetime.date | None = None, id_prefix: str = "q") -> list[Judgment]:
    """``count`` judgments for distinct children picked uniformly from ``children`` (read once).

    ``children`` yields (cp_id, child) pairs, child shaped like a demo spec's "child". Judgments
    come in the order the children were read, with ids q000001, q000002, ... (``id_prefix`` + number).
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    _check_rates(rates)
    rng = random.Random(seed)
    reservoir: list[tuple[int, str, Mapping]] = []
    surnames: dict[str, None] = {}
    seen = 0
    for index, (cp_id, child) in enumerate(children):
        seen = index + 1
        family = child.get("family_name")
        if family:
            surnames.setdefault(family, None)
        if index < count:
            reservoir.append((index, cp_id, child))
        else:
            slot = rng.randrange(index + 1)
            if slot < count:
                reservoir[slot] = (index, cp_id, child)
    if seen < count:
        raise ValueError(f"asked for {count} judgments but only {seen} children were given")
    pool = list(surnames)
    judgments = []
    for number, (_index, cp_id, child) in enumerate(sorted(reservoir, key=lambda item: item[0]), start=1):
        criteria, labels = corrupt(true_criteria(child), rng, rates, pool, today=today)
        judgments.append(Judgment(id=f"{id_prefix}{number:06d}", criteria=criteria, expected=cp_id, corruptions=labels))
    return judgments
