"""Record linkage: which child a feed row belongs to. The pure Fellegi-Sunter model (records, model, training);
the linker that runs it against the directory (linker), the stored model versions (store), and re-running a
model over links already made (relink)."""
from .model import DECISIONS, DEFAULT_BODY, FIELDS, LEVELS, NULL, LinkageModel, LinkageModelError, Scored
from .records import LinkRecord, normalise_address_line, valid_nhs_number, valid_upn
from .linker import CandidateFinder, LinkDecision, Linker, ScoredCandidate, load_link_records
from .store import ModelError, activate_model, active_model, default_model, find_model, save_model
from .training import (blocked_pairs, comparison_vector, estimate_m, estimate_m_from_vectors, estimate_u, evaluate,
                       term_frequencies, train, with_term_frequencies)

__all__ = [
    "CandidateFinder", "LinkDecision", "Linker", "ModelError", "ScoredCandidate", "activate_model", "active_model",
    "default_model", "find_model", "load_link_records", "save_model",
    "DECISIONS", "DEFAULT_BODY", "FIELDS", "LEVELS", "LinkRecord", "LinkageModel", "LinkageModelError", "NULL",
    "Scored", "blocked_pairs", "comparison_vector", "estimate_m", "estimate_m_from_vectors", "estimate_u", "evaluate",
    "normalise_address_line", "term_frequencies", "train", "valid_nhs_number", "valid_upn", "with_term_frequencies",
]
