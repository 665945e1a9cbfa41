"""Pure name, date and postcode analysis used on both the index and the query side."""
from .compare import AGREEMENT_ORDER, damerau_levenshtein, jaro_winkler, name_agreement, phonetic_equal
from .dates import DOB_AGREEMENT_ORDER, dob_agreement, near_dates, parse_partial_dob, transposed
from .identifiers import nhs_number_problem, normalise_nhs_number, normalise_upn, upn_problem
from .keys import NameKeys, family_full_keys, family_name_keys, given_name_keys, skeleton_keys
from .phonetic import double_metaphone, match_rating_codex, metaphone, nysiis, phonetic_codes, soundex
from .postcode import normalise_postcode, outward_code, postcode_area
from .text import compact, fold, script_tokens, tokens
from .validation import name_problem
from .variants import are_variants, family_variant_ids, given_variant_ids

__all__ = [
    "AGREEMENT_ORDER", "DOB_AGREEMENT_ORDER", "NameKeys", "are_variants", "compact", "damerau_levenshtein",
    "dob_agreement", "double_metaphone", "family_full_keys", "family_name_keys", "family_variant_ids", "fold",
    "given_name_keys", "given_variant_ids", "jaro_winkler", "match_rating_codex", "metaphone",
    "name_agreement", "name_problem", "near_dates", "nhs_number_problem", "normalise_nhs_number", "normalise_postcode",
    "normalise_upn", "nysiis", "outward_code",
    "parse_partial_dob", "postcode_area", "phonetic_codes", "phonetic_equal", "script_tokens", "skeleton_keys", "soundex", "tokens",
    "transposed", "upn_problem",
]
