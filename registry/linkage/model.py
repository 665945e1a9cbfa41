"""The Fellegi-Sunter linkage model: how much each field's agreement says about two records being one child.

Each comparison puts a pair of records at one level per field (given_name, family_name, date_of_birth,
postcode, address, gender, nhs_number, upn); a level weighs log2(m/u) bits, where m is the probability of
that level for two records of the same child and u for two random records. A value missing on either side
is the "null" level and weighs 0. The match weight is the sum of the levels' weights plus log2 of the prior
odds (``prior``: the probability that two random records are one child), so it reads as the log-odds that
the pair is a match; each field's contribution is kept so a person can read the sum as a waterfall.

- Names: the best level over every name either record is known by; a given name is also compared with the
  other side's middle names (at best "variant": going by a middle name is evidence, a weaker one). Exact
  agreement on a name is adjusted for its frequency (``term_frequencies``): a shared "smith" weighs less
  than a shared rare name. Given and family names swapped are tried as a second orientation, one bit
  (``SWAP_PENALTY``) down; the better orientation counts.
- Middle names: compared only where both records give some; a shared middle name (any of either's) is
  "exact", adjusted for its frequency as a given name, a near one "similar". Null when the given name already
  agreed only through the other's middle name, so one name never counts twice.
- Address line: compared only where the postcodes agree or one is missing; once the postcodes differ the
  address is "null", because the postcode already counted the move (the two are far from independent).
- Decision (``decide``): weight >= ``upper`` -> "link", >= ``lower`` -> "review", else "create", then
  the hard rules, which only ever lower a decision:
  1. Conflicting identifiers: two valid but different NHS numbers (or UPNs) never "link" (at most
     "review"): a reviewer looks, because a number can be keyed against the wrong child.
  2. The twin signature: same family name, date of birth (up to a keying slip) and address or postcode,
     no agreeing identifier, and given names that do not agree at all (not even an initial or a fuzzy
     match). Twins look exactly like that, and every other field adds up to a weight far above ``upper``.
     They never "link"; by default they "create" without a review item (``twin_decision``), since a child
     whose given name changed completely is far rarer than twins (~1.5 % of children) and a review for
     every twin would flood the queue. A shared identifier lifts the rule: twins never share one.
  3. A near twin: as 2, but the given names agree only weakly (phonetic, fuzzy, initial) and the genders
     disagree (Oliver and Olivia): at most "review".
  4. Dates of birth that do not agree at all (not swapped, not one digit, not the same year) with no
     agreeing identifier: at most "review". Siblings at one address share everything else, and one going by
     another's middle name ("Khalid Omar" beside "Omar") outweighs a single field's disagreement.
- The prior: an untrained model takes one in the directory's number of children
  (``registry.linkage.store.for_directory``); a trained one keeps the prior it learnt.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import lru_cache

from analyzers.compare import jaro_winkler, name_agreement
from analyzers.dates import dob_agreement
from analyzers.keys import family_name_keys, given_name_keys
from analyzers.text import compact, tokens

from .records import LinkRecord

NAME_LEVELS = ("exact", "variant", "phonetic", "fuzzy", "fuzzy_weak", "initial", "else")
LEVELS: dict[str, tuple[str, ...]] = {
    "given_name": NAME_LEVELS,
    "family_name": NAME_LEVELS,
    "middle_names": ("exact", "similar", "else"),
    "date_of_birth": ("exact", "transposed", "near", "year", "else"),
    "postcode": ("full", "full_earlier", "district", "else"),
    "address": ("exact", "else"),
    "gender": ("agree", "disagree"),
    "nhs_number": ("agree", "disagree"),
    "upn": ("agree", "disagree"),
}
FIELDS = tuple(LEVELS)
# Fields added after models were first stored: a stored body without one takes the shipped default's levels.
ADDED_FIELDS = ("middle_names",)
NULL = "null"
DECISIONS = ("create", "review", "link")  # weakest first: a hard rule caps a decision at one of them

SWAP_PENALTY = 1.0  # bits taken off the orientation with given and family names exchanged
FUZZY_WEAK_JARO_WINKLER = 0.88  # below name_agreement's typo band (0.92), still worth a little
_TF_KIND = {"given_name": "given", "family_name": "family", "middle_names": "given"}
_NAME_CACHE = 1 << 18


def _level(m: float, u: float) -> dict:
    return {"m": m, "u": u}


# Hand-set so linkage works before any training: m from how often a source gets a field wrong for the same
# child, u from how often two random children agree (about 1.2 M children, 18 birth years).
DEFAULT_BODY: dict = {
    "name": "default",
    "version": 1,
    "prior": 1e-6,
    "upper": 3.0,
    "lower": 0.0,
    "twin_decision": "create",
    "tf_floor": 1e-4,
    "term_frequencies": {"given": {}, "family": {}},
    "comparisons": {
        "given_name": {"exact": _level(0.85, 0.01), "variant": _level(0.05, 0.002), "phonetic": _level(0.02, 0.003),
                       "fuzzy": _level(0.04, 0.002), "fuzzy_weak": _level(0.01, 0.006),
                       "initial": _level(0.01, 0.03), "else": _level(0.02, 0.947)},
        "family_name": {"exact": _level(0.86, 0.005), "variant": _level(0.02, 0.001),
                        "phonetic": _level(0.03, 0.002), "fuzzy": _level(0.05, 0.001),
                        "fuzzy_weak": _level(0.01, 0.004), "initial": _level(0.005, 0.03),
                        "else": _level(0.025, 0.957)},
        # Only where both records give middle names: most sources that record one copy it as it is.
        "middle_names": {"exact": _level(0.93, 0.01), "similar": _level(0.04, 0.004), "else": _level(0.03, 0.986)},
        # A child's date of birth is copied between services, not guessed: beyond a swap or one slipped digit it
        # practically never differs, which keeps siblings at one address apart.
        "date_of_birth": {"exact": _level(0.9445, 0.00015), "transposed": _level(0.01, 0.0001),
                          "near": _level(0.04, 0.001), "year": _level(0.005, 0.055),
                          "else": _level(0.0005, 0.94375)},
        "postcode": {"full": _level(0.78, 0.0001), "full_earlier": _level(0.06, 0.0001),
                     "district": _level(0.04, 0.003), "else": _level(0.12, 0.9968)},
        # Compared only when the postcodes agree, so u is the chance that two children of one postcode share the
        # address (about one household in fifteen), not that two random children do: a household's siblings
        # must not gain the postcode's evidence twice.
        "address": {"exact": _level(0.85, 0.06), "else": _level(0.15, 0.94)},
        "gender": {"agree": _level(0.98, 0.5), "disagree": _level(0.02, 0.5)},
        "nhs_number": {"agree": _level(0.995, 1e-6), "disagree": _level(0.005, 0.999999)},
        "upn": {"agree": _level(0.99, 1e-6), "disagree": _level(0.01, 0.999999)},
    },
    "trained": None,
}

_TOP_KEYS = frozenset(DEFAULT_BODY)
_OPTIONAL_KEYS = frozenset({"trained"})


class LinkageModelError(ValueError):
    """A malformed model body; the message starts with the offending key."""


@dataclass(frozen=True)
class Scored:
    """A pair's match weight (bits) and each field's level and weight, plus "prior" (and "names_swapped")."""

    weight: float
    contributions: dict[str, dict]

    def levels(self) -> dict[str, str]:
        return {field: part["level"] for field, part in self.contributions.items()}


# --- name comparison: cached per pair of names, since common names meet again and again -----------------------

@lru_cache(maxsize=_NAME_CACHE)
def _name_comparison(a: str, b: str, kind: str) -> tuple[int, tuple[str, ...]]:
    """(index into NAME_LEVELS, exact keys the two share) for two names of one kind ("given"/"family")."""
    agreement = name_agreement(a, b, kind)
    if agreement == "exact":
        return 0, _shared_exact_keys(a, b, kind)
    if agreement in ("initial", "none") and _best_jaro_winkler(a, b) >= FUZZY_WEAK_JARO_WINKLER:
        return NAME_LEVELS.index("fuzzy_weak"), ()
    return (NAME_LEVELS.index("initial") if agreement == "initial" else
            NAME_LEVELS.index("else") if agreement == "none" else NAME_LEVELS.index(agreement)), ()


def _shared_exact_keys(a: str, b: str, kind: str) -> tuple[str, ...]:
    """The key the term frequency is read for: the whole name when both are the same, else the shared parts."""
    whole = compact(a)
    if whole and whole == compact(b):
        return (whole,)
    keys = given_name_keys if kind == "given" else family_name_keys
    return tuple(sorted(set(keys(a).exact) & set(keys(b).exact))) or (whole,)


def _best_jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler of the compact forms or of the first tokens, whichever is higher."""
    first_a, first_b = (tokens(a) or [""])[0], (tokens(b) or [""])[0]
    return max(jaro_winkler(compact(a), compact(b)), jaro_winkler(first_a, first_b))


_VARIANT = NAME_LEVELS.index("variant")
_ELSE = NAME_LEVELS.index("else")


def _names_levels(left: tuple, right: tuple) -> tuple[int, tuple[str, ...], int, tuple[str, ...], bool]:
    """Best given and family levels (with their shared exact keys) over every pair of names, and whether the
    given level was reached only through a middle name."""
    best_given, given_keys, best_family, family_keys, by_middle = _ELSE, (), _ELSE, (), False
    for given_a, middle_a, family_a in left:
        for given_b, middle_b, family_b in right:
            level, keys = _name_comparison(given_a, given_b, "given")
            if level < best_given or level == best_given and by_middle:
                best_given, given_keys, by_middle = level, keys, False
            if best_given > _VARIANT:  # going by a middle name: at best a variant of the same first name
                for one, other in ((given_a, middle_b), (middle_a, given_b)):
                    if other and one:
                        level = max(_name_comparison(one, other, "given")[0], _VARIANT)
                        if level < best_given:
                            best_given, given_keys, by_middle = level, (), True
            level, keys = _name_comparison(family_a, family_b, "family")
            if level < best_family:
                best_family, family_keys = level, keys
    return best_given, given_keys, best_family, family_keys, by_middle


# From a name level to a middle-name level. A bare initial that agrees ("J" beside "Jayden") proves nothing
# either way: null, not a disagreement.
_MIDDLE_LEVEL = ("exact",) + ("similar",) * NAME_LEVELS.index("fuzzy_weak") + (NULL, "else")


def _middle_tokens(names: tuple) -> tuple[str, ...]:
    return tuple(dict.fromkeys(token for _, middle, _ in names if middle for token in tokens(middle)))


def _middle_level(left: tuple, right: tuple) -> tuple[str, tuple[str, ...]]:
    """The best agreement of any middle name of one record with any of the other's (level, shared exact keys);
    null when either gives none. A shared middle name says much: two children of one name and birthday rarely
    share it too."""
    ours, theirs = _middle_tokens(left), _middle_tokens(right)
    if not ours or not theirs:
        return NULL, ()
    best, keys = _ELSE, ()
    for one in ours:
        for other in theirs:
            level, shared = _name_comparison(one, other, "given")
            if level < best:
                best, keys = level, shared
    return _MIDDLE_LEVEL[best], keys


# --- the other fields ---------------------------------------------------------------------------------------------

_DOB_LEVEL = {"exact": "exact", "transposed": "transposed", "near": "near", "year_month": "year", "year": "year",
              "none": "else"}


def _dob_level(a: LinkRecord, b: LinkRecord) -> str:
    return _DOB_LEVEL[dob_agreement(a.date_of_birth, b.date_of_birth)]


def _postcode_level(a: LinkRecord, b: LinkRecord) -> str:
    if not a.postcodes or not b.postcodes:
        return NULL
    if a.postcodes[0] == b.postcodes[0]:
        return "full"
    if a.postcode_set & b.postcode_set:
        return "full_earlier"
    return "district" if a.districts & b.districts else "else"


def _address_level(a: LinkRecord, b: LinkRecord, postcode_level: str) -> str:
    """Null when the postcodes already differ: a move would otherwise count twice against the pair."""
    if not a.address_lines or not b.address_lines or postcode_level in ("district", "else"):
        return NULL
    return "exact" if a.address_set & b.address_set else "else"


def _equal_level(x: str | None, y: str | None, agree: str = "agree", disagree: str = "disagree") -> str:
    if not x or not y:
        return NULL
    return agree if x == y else disagree


# --- the model ----------------------------------------------------------------------------------------------------

class LinkageModel:
    """A versioned linkage model read from its JSON body (see DEFAULT_BODY); immutable once built."""

    def __init__(self, body: dict):
        self._body = copy.deepcopy(body)
        self.name: str = body["name"]
        self.version: int = body["version"]
        self.prior: float = body["prior"]
        self.upper: float = float(body["upper"])
        self.lower: float = float(body["lower"])
        self.twin_decision: str = body["twin_decision"]
        self.tf_floor: float = body["tf_floor"]
        comparisons = body["comparisons"]
        self.m = {field: {level: comparisons[field][level]["m"] for level in LEVELS[field]} for field in FIELDS}
        self.u = {field: {level: comparisons[field][level]["u"] for level in LEVELS[field]} for field in FIELDS}
        self.weights = {field: {level: math.log2(self.m[field][level] / self.u[field][level])
                                for level in LEVELS[field]} for field in FIELDS}
        self.prior_weight = math.log2(self.prior / (1 - self.prior))
        frequencies = body["term_frequencies"]
        self._tf = {kind: dict(frequencies[kind]) for kind in ("given", "family")}
        # A name beyond the stored table is at most as common as the rarest name in it.
        self._tf_missing = {kind: min(table.values()) if table else None for kind, table in self._tf.items()}
        self._name_weights = {field: [self.weights[field][level] for level in NAME_LEVELS]
                              for field in ("given_name", "family_name")}
        self._rounded = {field: {level: round(weight, 2) for level, weight in levels.items()}
                         for field, levels in self.weights.items()}  # score runs per candidate: round once
        self._rounded_prior = round(self.prior_weight, 2)

    # -- the body ---------------------------------------------------------------------------------------------------
    @classmethod
    def from_body(cls, body) -> "LinkageModel":
        """The model a body describes; LinkageModelError (a ValueError) naming the first bad key otherwise."""
        body = _with_added_fields(body)
        _validate(body)
        return cls(body)

    @classmethod
    def default(cls) -> "LinkageModel":
        return cls.from_body(DEFAULT_BODY)

    def to_body(self) -> dict:
        return copy.deepcopy(self._body)

    def with_prior(self, prior: float) -> "LinkageModel":
        """The same model with another prior (e.g. one in the directory's number of children)."""
        return LinkageModel.from_body({**self._body, "prior": prior})

    @property
    def label(self) -> str:
        """'name:version', as a source record's ``linkage_model`` stores it."""
        return f"{self.name}:{self.version}"

    def term_frequency(self, kind: str, key: str) -> float | None:
        """The relative frequency of a folded name ("given"/"family"); None when the model holds no table."""
        table = self._tf[kind]
        if not table:
            return None
        return table.get(key, self._tf_missing[kind])

    # -- scoring ----------------------------------------------------------------------------------------------------
    def score(self, a: LinkRecord, b: LinkRecord) -> Scored:
        """The match weight of a pair and every field's contribution (the better name orientation)."""
        straight = self._names_part(a.names, b.names)
        names, swap = straight, False
        if not straight[2]:  # both names exact already: exchanging them cannot do better
            swapped = self._names_part(a.names, b.swapped_names)
            if swapped[0] - SWAP_PENALTY > straight[0]:
                names, swap = swapped, True
        contributions = {"prior": {"level": "prior", "weight": self._rounded_prior}}
        contributions.update(names[1])
        total = self.prior_weight + names[0]
        if swap:
            contributions["names_swapped"] = {"level": "swapped", "weight": -SWAP_PENALTY}
            total -= SWAP_PENALTY
        middle, middle_keys = _middle_level(a.names, b.names)
        if names[1]["given_name"].get("by") == "middle_name":
            middle = NULL  # a given name that is the other's middle name already counted it
        if middle == NULL:
            contributions["middle_names"] = {"level": NULL, "weight": 0.0}
        else:
            weight = (self._exact_name_weight("middle_names", middle_keys) if middle == "exact"
                      else self.weights["middle_names"][middle])
            contributions["middle_names"] = {"level": middle, "weight": round(weight, 2)}
            total += weight
        postcode = _postcode_level(a, b)
        for field, level in (("date_of_birth", _dob_level(a, b)), ("postcode", postcode),
                             ("address", _address_level(a, b, postcode)), ("gender", _equal_level(a.gender, b.gender)),
                             ("nhs_number", _equal_level(a.nhs_number, b.nhs_number)),
                             ("upn", _equal_level(a.upn, b.upn))):
            if level == NULL:
                contributions[field] = {"level": NULL, "weight": 0.0}
            else:
                contributions[field] = {"level": level, "weight": self._rounded[field][level]}
                total += self.weights[field][level]
        return Scored(weight=total, contributions=contributions)

    def _names_part(self, left: tuple, right: tuple) -> tuple[float, dict[str, dict], bool]:
        """(weight, contributions, both exact) of the given and family names in one orientation."""
        given, given_keys, family, family_keys, by_middle = _names_levels(left, right)
        parts, total = {}, 0.0
        for field, level, keys in (("given_name", given, given_keys), ("family_name", family, family_keys)):
            if level == 0:
                weight = self._exact_name_weight(field, keys)
                parts[field] = {"level": "exact", "weight": round(weight, 2)}
            else:
                weight = self._name_weights[field][level]
                parts[field] = {"level": NAME_LEVELS[level], "weight": self._rounded[field][NAME_LEVELS[level]]}
            total += weight
        if by_middle:  # one side's given name is the other's middle name: said, since the twin rule asks
            parts["given_name"]["by"] = "middle_name"
        return total, parts, given == 0 and family == 0

    def _exact_name_weight(self, field: str, keys: tuple[str, ...]) -> float:
        """log2(m / u) with u the shared name's frequency (the commonest shared part), not below ``tf_floor``."""
        kind = _TF_KIND[field]
        frequencies = [f for f in (self.term_frequency(kind, key) for key in keys) if f is not None]
        if not frequencies:
            return self.weights[field]["exact"]
        return math.log2(self.m[field]["exact"] / max(max(frequencies), self.tf_floor))

    def comparison_levels(self, a: LinkRecord, b: LinkRecord) -> dict[str, str]:
        """Each field's level in the orientation ``score`` chooses (the comparison vector, for training)."""
        levels = self.score(a, b).levels()
        return {field: levels[field] for field in FIELDS}

    # -- deciding ---------------------------------------------------------------------------------------------------
    def decide(self, scored: Scored) -> str:
        """"link", "review" or "create" from the thresholds, lowered by the hard rules (module docstring)."""
        decision = "link" if scored.weight >= self.upper else "review" if scored.weight >= self.lower else "create"
        levels = scored.levels()
        if "names_swapped" in levels:  # the rules read each name as the candidate holds it
            levels["given_name"], levels["family_name"] = levels["family_name"], levels["given_name"]
        if "disagree" in (levels.get("nhs_number"), levels.get("upn")):
            decision = _at_most(decision, "review")
        if levels.get("date_of_birth") == "else" and "agree" not in (levels.get("nhs_number"), levels.get("upn")):
            # Dates of birth years apart: a sibling far more often than a slip; only a person may join them.
            decision = _at_most(decision, "review")
        if _twin_signature(levels):
            if levels.get("given_name") == "else":
                decision = _at_most(decision, self.twin_decision)
            elif levels.get("given_name") not in ("exact", "variant") and levels.get("gender") == "disagree":
                decision = _at_most(decision, "review")
            elif "names_swapped" not in levels and scored.contributions["given_name"].get("by") == "middle_name":
                # Reem Nour and her twin Nour: a first name that is only the other's middle name, at the same
                # home on the same birthday, may be either child.
                decision = _at_most(decision, "review")
        return decision


def _at_most(decision: str, limit: str) -> str:
    return decision if DECISIONS.index(decision) <= DECISIONS.index(limit) else limit


_AGREEING_FAMILY = frozenset(NAME_LEVELS[:4])  # exact, variant, phonetic, fuzzy


def _twin_signature(levels: dict[str, str]) -> bool:
    """Same family, birth date (up to a slip) and home, and no shared identifier (see the module docstring)."""
    return (levels.get("family_name") in _AGREEING_FAMILY
            and levels.get("date_of_birth") in ("exact", "transposed", "near")
            and (levels.get("postcode") in ("full", "full_earlier") or levels.get("address") == "exact")
            and "agree" not in (levels.get("nhs_number"), levels.get("upn")))


def _with_added_fields(body):
    """A body stored before a field was compared, with that field's shipped levels (it then counts as shipped)."""
    comparisons = body.get("comparisons") if isinstance(body, dict) else None
    if not isinstance(comparisons, dict) or all(field in comparisons for field in ADDED_FIELDS):
        return body
    shipped = DEFAULT_BODY["comparisons"]
    return {**body, "comparisons": {**{f: copy.deepcopy(shipped[f]) for f in ADDED_FIELDS if f not in comparisons},
                                    **comparisons}}


# --- body validation ----------------------------------------------------------------------------------------------

def _validate(body) -> None:
    if not isinstance(body, dict):
        raise LinkageModelError("body: a linkage model must be a JSON object")
    unknown = sorted(set(body) - _TOP_KEYS)
    if unknown:
        raise LinkageModelError(f"{unknown[0]}: unknown key")
    missing = sorted(_TOP_KEYS - _OPTIONAL_KEYS - set(body))
    if missing:
        raise LinkageModelError(f"{missing[0]}: missing")
    name = body["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= 50 or not name.replace("-", "").replace("_", "").isalnum():
        raise LinkageModelError("name: 1-50 letters, digits, '-' or '_'")
    if not _whole_number(body["version"]) or body["version"] < 1:
        raise LinkageModelError("version: a whole number from 1")
    if not _number(body["prior"]) or not 0 < body["prior"] < 1:
        raise LinkageModelError("prior: a probability between 0 and 1 (exclusive)")
    for key in ("upper", "lower"):
        if not _number(body[key]) or not -100 <= body[key] <= 100:
            raise LinkageModelError(f"{key}: a number of bits from -100 to 100")
    if body["lower"] > body["upper"]:
        raise LinkageModelError("lower: must not be above upper")
    if body["twin_decision"] not in ("create", "review"):
        raise LinkageModelError("twin_decision: 'create' or 'review'")
    if not _number(body["tf_floor"]) or not 0 < body["tf_floor"] < 1:
        raise LinkageModelError("tf_floor: a probability between 0 and 1 (exclusive)")
    _validate_term_frequencies(body["term_frequencies"])
    _validate_comparisons(body["comparisons"])
    if body.get("trained") is not None and not isinstance(body["trained"], dict):
        raise LinkageModelError("trained: an object or null")


def _validate_term_frequencies(frequencies) -> None:
    if not isinstance(frequencies, dict) or set(frequencies) != {"given", "family"}:
        raise LinkageModelError("term_frequencies: an object with 'given' and 'family'")
    for kind, table in frequencies.items():
        if not isinstance(table, dict):
            raise LinkageModelError(f"term_frequencies.{kind}: an object of name: frequency")
        for name, frequency in table.items():
            if not _number(frequency) or not 0 < frequency <= 1:
                raise LinkageModelError(f"term_frequencies.{kind}.{name}: a frequency above 0, at most 1")


def _validate_comparisons(comparisons) -> None:
    if not isinstance(comparisons, dict):
        raise LinkageModelError("comparisons: an object of field: levels")
    unknown = sorted(set(comparisons) - set(FIELDS))
    if unknown:
        raise LinkageModelError(f"comparisons.{unknown[0]}: unknown field")
    for field in FIELDS:
        levels = comparisons.get(field)
        where = f"comparisons.{field}"
        if not isinstance(levels, dict):
            raise LinkageModelError(f"{where}: missing (an object of level: {{m, u}})")
        extra = sorted(set(levels) - set(LEVELS[field]))
        if extra:
            raise LinkageModelError(f"{where}.{extra[0]}: unknown level (levels: {', '.join(LEVELS[field])})")
        for level in LEVELS[field]:
            probabilities = levels.get(level)
            if not isinstance(probabilities, dict) or set(probabilities) != {"m", "u"}:
                raise LinkageModelError(f"{where}.{level}: an object with m and u")
            for key in ("m", "u"):
                if not _number(probabilities[key]) or not 0 < probabilities[key] <= 1:
                    raise LinkageModelError(f"{where}.{level}.{key}: a probability above 0, at most 1")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole_number(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
