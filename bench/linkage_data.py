"""A synthetic population seen by three source feeds, with the truth, for the record-linkage benchmark.

    .venv/bin/python bench/linkage_data.py [--children 20000] [--seed 1] --out DIR

Deterministic for (children, seed, today). Children live in households (siblings share a surname and an
address, a few births are twins: same surname, date of birth and address, different given names), and the
pools make traps on purpose: many "Mohammed Khan"s and "Olivia Smith"s born the same year, hyphenated and
transliterated names. Three sources see overlapping subsets, in load order:

- gp-registrations: ~95 % of children, always with the NHS number;
- school-census: ~80 % of the children of school age (4-17), always with the UPN;
- la-social-care: ~10 % of children, sometimes with the NHS number.

Each row differs from the child as real feeds do, at per-source rates (SOURCES): typos, phonetic respellings,
nicknames, transliterations, swapped given/family names, dropped middle names, folded accents, missing
postcode, gender or address, date-of-birth slips (day/month transposed, one digit), moves (the later address),
changed surnames and hyphenated variants. Writes DIR/<source>.csv (feed columns: registry/feed_schema.py),
DIR/truth.csv (source, source_record_id, person_id, variations) and DIR/people.csv (person_id, household_id,
twin_of, traps). Rows are held in memory to shuffle them (about 1 GB at 1,000,000 children).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from random import Random

from nicknames import NickNamer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzers import clock  # noqa: E402
# The demo generator's name pools and its LA places; its private helpers are reused rather than copied.
from registry.demo_data import (  # noqa: E402
    _LA_DATA, COMMUNITIES, COMMUNITY_WEIGHTS, NICKNAMES, POSTCODE_INWARD_LETTERS, STREET_SUFFIXES,
    TRANSLITERATIONS, _fold_diacritics, _gendered_surname, _typo,
)
from registry.feed_schema import COLUMNS  # noqa: E402

FEED_COLUMNS = ("source_record_id", "given_name", "middle_names", "family_name", "date_of_birth", "gender",
                "address_line_1", "address_line_2", "town", "postcode", "la_code", "nhs_number", "upn")
TRUTH_COLUMNS = ("source", "source_record_id", "person_id", "variations")
PEOPLE_COLUMNS = ("person_id", "household_id", "twin_of", "traps")

HOUSEHOLD_SIZE_WEIGHTS = ((1, 45), (2, 35), (3, 15), (4, 5))
TWIN_BIRTH_RATE = 0.0076          # per birth: ~1.5 % of children are twins
COMMON_NAME_HOUSEHOLD_RATE = 0.02  # households whose first child is a Mohammed Khan or an Olivia Smith
COMMON_NAMES = (("Mohammed", "Khan", "male", "south_asian"), ("Olivia", "Smith", "female", "english"))
HYPHENATED_RATE = 0.06
MIDDLE_NAME_RATE = 0.55
FLAT_RATE = 0.15
MOVED_RATE = 0.12                 # children with a newer address than the one some sources still hold
SCHOOL_AGES = range(4, 18)
EARLIEST_MARGIN_DAYS = 60          # no child turns 18 between generating and loading (nor after a DOB slip)
NHS_NUMBER_BASE = 400_000_000
UPN_BASE = 100_000_000

PHONETIC_RESPELLINGS = (("ph", "f"), ("ck", "k"), ("ee", "ea"), ("ie", "y"), ("ey", "y"), ("ou", "ow"),
                        ("th", "t"), ("z", "s"), ("ll", "l"), ("nn", "n"), ("tt", "t"), ("ai", "ay"), ("oo", "u"),
                        ("c", "k"), ("y", "i"), ("i", "y"), ("s", "z"), ("l", "ll"), ("f", "ph"))


@dataclass(frozen=True)
class Source:
    name: str
    prefix: str
    coverage: float                 # of the children it can see
    school_age_only: bool
    nhs_number_rate: float
    upn_rate: float
    newer_address_rate: float       # of moved children, how often this source has the newer address
    rates: dict = field(default_factory=dict)   # variation -> per-row probability (where it applies)


SOURCES = (
    Source("gp-registrations", "GP", 0.95, False, 1.0, 0.0, 0.6,
           {"typo": 0.02, "phonetic": 0.01, "nickname": 0.01, "transliteration": 0.05, "swapped": 0.005,
            "middle_dropped": 0.05, "accents_folded": 0.3, "no_postcode": 0.01, "no_gender": 0.01,
            "no_address": 0.01, "dob_transposed": 0.005, "dob_digit": 0.005, "surname_changed": 0.005,
            "hyphen_variant": 0.3}),
    Source("school-census", "SC", 0.80, True, 0.0, 1.0, 0.85,
           {"typo": 0.04, "phonetic": 0.02, "nickname": 0.06, "transliteration": 0.15, "swapped": 0.01,
            "middle_dropped": 0.3, "accents_folded": 0.5, "no_postcode": 0.03, "no_gender": 0.03,
            "no_address": 0.03, "dob_transposed": 0.01, "dob_digit": 0.01, "surname_changed": 0.015,
            "hyphen_variant": 0.4}),
    Source("la-social-care", "LASC", 0.10, False, 0.5, 0.0, 0.7,
           {"typo": 0.06, "phonetic": 0.04, "nickname": 0.08, "transliteration": 0.2, "swapped": 0.02,
            "middle_dropped": 0.4, "accents_folded": 0.6, "no_postcode": 0.1, "no_gender": 0.08,
            "no_address": 0.1, "dob_transposed": 0.015, "dob_digit": 0.015, "surname_changed": 0.03,
            "hyphen_variant": 0.5}),
)
SOURCE_NAMES = tuple(s.name for s in SOURCES)


# --- Strong identifiers ------------------------------------------------------------------------
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def nhs_check_digit(first_nine: str) -> int | None:
    """Modulus 11 with weights 10..2; None when the nine digits cannot make a valid number."""
    check = 11 - sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1))) % 11
    return 0 if check == 11 else None if check == 10 else check


def nhs_number_from(serial: int) -> str:
    """The first valid NHS number at or after ``serial`` (nine digits) plus its check digit."""
    while True:
        first_nine = f"{serial:09d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
        serial += 1


def upn_from(last_twelve: str) -> str:
    """A permanent UPN: the check letter (weights 2..13, modulus 23) before twelve digits."""
    total = sum(int(d) * w for d, w in zip(last_twelve, range(2, 14)))
    return UPN_LETTERS[total % 23] + last_twelve


# --- The population --------------------------------------------------------------------------
@dataclass
class Person:
    person_id: str
    household_id: int
    given_name: str
    middle_names: str
    family_name: str
    surname_parts: tuple[str, ...]
    community: str
    date_of_birth: dt.date
    gender: str
    address: tuple[str, str, str, str, str]           # line 1, line 2, town, postcode, la_code
    newer_address: tuple[str, str, str, str, str] | None
    nhs_number: str
    upn: str | None
    twin_of: str = ""
    traps: list[str] = field(default_factory=list)


def _weighted(rng: Random, pairs):
    values, weights = zip(*pairs)
    return rng.choices(values, weights)[0]


class PopulationBuilder:
    def __init__(self, rng: Random, today: dt.date):
        self.rng, self.today = rng, today
        self.earliest = today.replace(year=today.year - 18) + dt.timedelta(days=EARLIEST_MARGIN_DAYS)
        self.common_name_year = today.year - 8
        self.streets = sorted({_fold_diacritics(n) for c in ("english", "welsh", "scottish") for n in
                               COMMUNITIES[c]["family"] if n.isalpha()})
        self.places = [(code, town, area, top, la_number) for la_number, (code, _name, _phone, places)
                       in enumerate(_LA_DATA, start=201) for town, area, top in places]
        self.nhs_serial = NHS_NUMBER_BASE + rng.randrange(100_000_000)
        self.upn_serial = UPN_BASE
        self.people = 0

    def household(self, household_id: int, limit: int) -> list[Person]:
        rng = self.rng
        community = _weighted(rng, COMMUNITY_WEIGHTS)
        common = rng.choice(COMMON_NAMES) if rng.random() < COMMON_NAME_HOUSEHOLD_RATE else None
        if common:
            community = common[3]
        parts = (common[1],) if common else self.surname_parts(community)
        place = rng.choice(self.places)
        address = self.address(place)
        newer = self.address(rng.choice([p for p in self.places if p[0] == place[0]])) \
            if rng.random() < MOVED_RATE else None
        people: list[Person] = []
        births = min(_weighted(rng, HOUSEHOLD_SIZE_WEIGHTS), limit)
        while len(people) < births:
            dob = self.date_of_birth(common if not people else None)
            twins = rng.random() < TWIN_BIRTH_RATE and len(people) + 2 <= limit
            for _ in range(2 if twins else 1):
                people.append(self.child(household_id, community, parts, dob, address, newer, place,
                                         common if not people else None, avoid={p.given_name for p in people}))
            if twins:
                people[-1].twin_of, people[-2].twin_of = people[-2].person_id, people[-1].person_id
                people[-1].traps.append("twin")
                people[-2].traps.append("twin")
        return people

    def surname_parts(self, community: str) -> tuple[str, ...]:
        first = self.rng.choice(COMMUNITIES[community]["family"])
        if self.rng.random() >= HYPHENATED_RATE:
            return (first,)
        other = self.rng.choice([n for n in COMMUNITIES[_weighted(self.rng, COMMUNITY_WEIGHTS)]["family"]
                                 if n != first and " " not in n])
        return (first, other)

    def date_of_birth(self, common) -> dt.date:
        if common:   # the trap: many children of that name born in one year
            first = max(dt.date(self.common_name_year, 1, 1), self.earliest)
            last = min(dt.date(self.common_name_year, 12, 31), self.today)
        else:
            first, last = self.earliest, self.today
        return first + dt.timedelta(days=self.rng.randint(0, (last - first).days))

    def address(self, place) -> tuple[str, str, str, str, str]:
        rng = self.rng
        code, town, area, top, _ = place
        street = f"{rng.randint(1, 180)} {rng.choice(self.streets)} {rng.choice(STREET_SUFFIXES)}"
        line_1, line_2 = (f"Flat {rng.randint(1, 40)}", street) if rng.random() < FLAT_RATE else (street, "")
        postcode = (f"{area}{rng.randint(1, top)} {rng.randint(0, 9)}"
                    f"{rng.choice(POSTCODE_INWARD_LETTERS)}{rng.choice(POSTCODE_INWARD_LETTERS)}")
        return line_1, line_2, town, postcode, code

    def child(self, household_id, community, parts, dob, address, newer, place, common, avoid) -> Person:
        rng = self.rng
        self.people += 1
        gender = common[2] if common else _weighted(rng, (("female", 48), ("male", 48), ("unknown", 4)))
        pool_gender = gender if gender != "unknown" else rng.choice(("female", "male"))
        given = common[0] if common else rng.choice([n for n in COMMUNITIES[community][pool_gender]
                                                     if n not in avoid])
        middles = ""
        if rng.random() < MIDDLE_NAME_RATE:
            middles = rng.choice([n for n in COMMUNITIES[community][pool_gender] if n != given])
        joiner = " " if community == "south_asian" and len(parts) > 1 else "-"
        family = joiner.join(_gendered_surname(p, pool_gender) for p in parts)
        self.nhs_serial += 1
        nhs_number = nhs_number_from(self.nhs_serial)
        self.nhs_serial = int(nhs_number[:9])
        age = self.today.year - dob.year - ((self.today.month, self.today.day) < (dob.month, dob.day))
        upn = None
        if age in SCHOOL_AGES:
            self.upn_serial += 1
            upn = upn_from(f"{place[4]:03d}{self.upn_serial:09d}")
        traps = []
        if common:
            traps.append("common_name")
        if len(parts) > 1:
            traps.append("hyphenated")
        if given in TRANSLITERATIONS or family in TRANSLITERATIONS:
            traps.append("transliterated")
        return Person(f"P{self.people:07d}", household_id, given, middles, family,
                      tuple(_gendered_surname(p, pool_gender) for p in parts), community, dob, gender, address,
                      newer, nhs_number, upn, traps=traps)


def generate_people(children: int, seed: int, today: dt.date) -> list[Person]:
    rng = Random(f"linkage-population-{seed}")
    builder = PopulationBuilder(rng, today)
    people: list[Person] = []
    household_id = 0
    while len(people) < children:
        household_id += 1
        people.extend(builder.household(household_id, children - len(people)))
    return people


# --- What each source sends ------------------------------------------------------------------
@lru_cache(maxsize=None)
def short_forms(given: str) -> tuple[str, ...]:
    """Nicknames of a given name: the demo data's curated ones, else the nicknames package's."""
    if given in NICKNAMES:
        return NICKNAMES[given]
    return tuple(n.capitalize() for n in sorted(_namer().nicknames_of(given.lower())) if len(n) > 1)


@lru_cache(maxsize=1)
def _namer() -> NickNamer:
    return NickNamer()


def respell(rng: Random, name: str) -> str:
    """A phonetic respelling (Sophie -> Sofie, Callum -> Kallum), keeping the capital; typo if none applies."""
    lower = name.lower()
    options = [(old, new) for old, new in PHONETIC_RESPELLINGS if old in lower[1:] or lower.startswith(old)]
    if not options:
        return _typo(rng, name)
    old, new = rng.choice(options)
    at = lower.find(old, 0 if lower.startswith(old) else 1)
    return _capitalised(lower[:at] + new + lower[at + len(old):])


def _capitalised(name: str) -> str:
    """Each word's first letter in capitals ("smith-jones" -> "Smith-Jones")."""
    return "".join(c.upper() if i == 0 or name[i - 1] in " -'" else c for i, c in enumerate(name))


def hyphen_variant(rng: Random, parts: tuple[str, ...]) -> str:
    return rng.choice((" ".join(parts), parts[0], parts[-1], "".join(parts), "-".join(reversed(parts))))


def slipped_date(rng: Random, dob: dt.date, kind: str, earliest: dt.date, today: dt.date) -> dt.date | None:
    """Day and month transposed, or one digit of the date mistyped; None when that gives no valid child's date."""
    if kind == "dob_transposed":
        if dob.day > 12 or dob.day == dob.month:
            return None
        slipped = dob.replace(month=dob.day, day=dob.month)
    else:
        text = dob.isoformat()
        at = rng.choice((2, 3, 5, 6, 8, 9))
        try:
            slipped = dt.date.fromisoformat(text[:at] + str(rng.choice([d for d in range(10) if str(d) != text[at]]))
                                            + text[at + 1:])
        except ValueError:
            return None
    return slipped if earliest <= slipped <= today else None


def source_row(rng: Random, source: Source, person: Person, earliest: dt.date, today: dt.date,
               surnames: dict[str, tuple[str, ...]]) -> tuple[dict, list[str]]:
    """One feed row for ``person`` as ``source`` sends it, and the labels of the differences applied."""
    rates, applied = source.rates, []

    def roll(kind: str) -> bool:
        if rng.random() < rates.get(kind, 0.0):
            applied.append(kind)
            return True
        return False

    given, middles, family = person.given_name, person.middle_names, person.family_name
    if len(person.surname_parts) > 1 and roll("hyphen_variant"):
        family = hyphen_variant(rng, person.surname_parts)
    if roll("surname_changed"):
        family = rng.choice([n for n in surnames[person.community] if n != family])
    if short_forms(given) and roll("nickname"):
        given = rng.choice(short_forms(given))
    elif given in TRANSLITERATIONS and roll("transliteration"):
        given = rng.choice(TRANSLITERATIONS[given])
    if family in TRANSLITERATIONS and roll("transliteration"):
        family = rng.choice(TRANSLITERATIONS[family])
    if roll("typo"):
        if rng.random() < 0.5:
            given = _typo(rng, given)
        else:
            family = _typo(rng, family)
    if roll("phonetic"):
        if rng.random() < 0.5:
            given = respell(rng, given)
        else:
            family = respell(rng, family)
    if middles and roll("middle_dropped"):
        middles = ""
    if not f"{given}{middles}{family}".isascii() and roll("accents_folded"):
        given, middles, family = _fold_diacritics(given), _fold_diacritics(middles), _fold_diacritics(family)
    if roll("swapped"):
        given, family = family, given
    dob = person.date_of_birth
    for kind in ("dob_transposed", "dob_digit"):
        if rng.random() < rates[kind]:
            slipped = slipped_date(rng, dob, kind, earliest, today)
            if slipped:
                dob = slipped
                applied.append(kind)
    address = person.address
    if person.newer_address and rng.random() < source.newer_address_rate:
        address = person.newer_address
        applied.append("moved")
    line_1, line_2, town, postcode, la_code = address
    if roll("no_address"):
        line_1 = line_2 = town = ""
    if roll("no_postcode"):
        postcode = ""
    gender = "" if roll("no_gender") else person.gender
    nhs_number = person.nhs_number if rng.random() < source.nhs_number_rate else ""
    upn = person.upn if person.upn and rng.random() < source.upn_rate else ""
    row = {"given_name": given, "middle_names": middles, "family_name": family, "date_of_birth": dob.isoformat(),
           "gender": gender, "address_line_1": line_1, "address_line_2": line_2, "town": town, "postcode": postcode,
           "la_code": la_code, "nhs_number": nhs_number, "upn": upn}
    return row, applied


def sees(rng: Random, source: Source, person: Person) -> bool:
    if source.school_age_only and person.upn is None:
        return False
    return rng.random() < source.coverage


# --- Files -----------------------------------------------------------------------------------
def feed_columns() -> tuple[str, ...]:
    """The columns written: those the feed schema takes (identifiers only once it takes them)."""
    return tuple(c for c in FEED_COLUMNS if c in COLUMNS)


def write_dataset(out: Path, children: int, seed: int, today: dt.date | None = None) -> dict:
    """Write the feeds, truth and people files; return {"people": n, "rows": {source: n}, "seconds": s}."""
    start = time.perf_counter()
    today = today or clock.today()
    out.mkdir(parents=True, exist_ok=True)
    people = generate_people(children, seed, today)
    earliest = today.replace(year=today.year - 18) + dt.timedelta(days=EARLIEST_MARGIN_DAYS)
    surnames = {community: tuple(n for n in pools["family"]) for community, pools in COMMUNITIES.items()}
    columns = feed_columns()
    rows_written: dict[str, int] = {}
    with (out / "truth.csv").open("w", newline="", encoding="utf-8") as truth_file:
        truth = csv.writer(truth_file)
        truth.writerow(TRUTH_COLUMNS)
        for source in SOURCES:
            rng = Random(f"linkage-{source.name}-{seed}")
            rows = []
            for person in people:
                if sees(rng, source, person):
                    row, applied = source_row(rng, source, person, earliest, today, surnames)
                    rows.append((person.person_id, " ".join(applied), tuple(row.get(c, "") for c in columns[1:])))
            rng.shuffle(rows)   # feeds do not arrive in household order
            with (out / f"{source.name}.csv").open("w", newline="", encoding="utf-8") as feed_file:
                feed = csv.writer(feed_file)
                feed.writerow(columns)
                for n, (person_id, applied, values) in enumerate(rows, start=1):
                    record_id = f"{source.prefix}{n:08d}"
                    feed.writerow((record_id, *values))
                    truth.writerow((source.name, record_id, person_id, applied))
            rows_written[source.name] = len(rows)
    with (out / "people.csv").open("w", newline="", encoding="utf-8") as people_file:
        writer = csv.writer(people_file)
        writer.writerow(PEOPLE_COLUMNS)
        writer.writerows((p.person_id, p.household_id, p.twin_of, " ".join(p.traps)) for p in people)
    return {"people": len(people), "rows": rows_written, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.children < 1:
        parser.error("--children must be at least 1")
    summary = write_dataset(args.out, args.children, args.seed)
    rows = ", ".join(f"{source} {n:,}" for source, n in summary["rows"].items())
    print(f"{summary['people']:,} children, rows: {rows}; {summary['seconds']:.1f}s -> {args.out}")


if __name__ == "__main__":
    main()
