"""Training, evaluating, activating and re-running linkage models: one service for the CLI and the admin pages.

Training reads the directory (source records of a random sample of children): it is a bulk read,
audited with its size like every other, and done by the console operator or a national administrator.
Evaluation reads only a labelled pairs file (or the reviewers' decisions) and reports figures, never a
child.
"""
from __future__ import annotations

import json
import random
from typing import Callable, Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import review
from registry.linkage import store
from registry.linkage.linker import load_link_records
from registry.linkage.relink import detach_for_review, others_by_record, would_still_link
from registry.linkage.model import LinkageModel, LinkageModelError
from registry.linkage.records import LinkRecord
from registry.linkage.training import BLOCKING_RULES, blocked_pairs, evaluate, train as train_model, training_steps
from registry.models import Child, ReviewItem, SourceRecord

Recorder = Callable[[Session, str, dict], object]
# How many children training reads by default, and the bounds on it (the console and the page alike).
SAMPLE_DEFAULT, SAMPLE_MIN, SAMPLE_MAX = 50_000, 100, 10_000_000
# What a new version made by hand may change: the rest of a model is learnt (``train``).
EDITABLE = ("upper", "lower", "twin_decision")


class PairsError(ValueError):
    """A labelled pairs file that cannot be read; the message names the line and the problem."""


def _sample_children(session: Session, sample: int, seed: int) -> list[int]:
    ids = session.scalars(select(Child.id).where(Child.status == "active")).all()
    rng = random.Random(seed)
    return rng.sample(list(ids), sample) if len(ids) > sample else list(ids)


def training_fields(session: Session, child_ids: list[int]) -> list[dict]:
    """Every source record of these children as the fields it gave; a child no source describes as itself."""
    fields: list[dict] = []
    described: set[int] = set()
    for start in range(0, len(child_ids), 1000):
        chunk = child_ids[start:start + 1000]
        for child_id, payload in session.execute(select(SourceRecord.child_id, SourceRecord.payload)
                                                 .where(SourceRecord.child_id.in_(chunk))):
            fields.append(payload)
            described.add(child_id)
        for child_id, (_, record) in load_link_records(session, [c for c in chunk if c not in described]).items():
            given, middle, family = record.names[0]
            fields.append({"given_name": given, "middle_names": middle, "family_name": family,
                           "date_of_birth": record.date_of_birth, "gender": record.gender,
                           "postcode": record.postcodes[0] if record.postcodes else None,
                           "nhs_number": record.nhs_number, "upn": record.upn})
    return fields


def train(session: Session, base: LinkageModel, sample: int, seed: int, created_by: str, audit: Recorder,
          iterations: int = 25, on_total: Callable[[int], object] = lambda n: None,
          on_step: Callable[[int], object] = lambda n: None) -> tuple[LinkageModel, dict]:
    """A new version of ``base`` trained without labels on a sample of the directory; stored, not activated.
    ``on_total`` hears how many steps the training takes (reading the sample is the first), ``on_step`` each."""
    on_total(1 + training_steps())
    rng = random.Random(seed)
    child_ids = _sample_children(session, sample, seed)
    fields = training_fields(session, child_ids)
    audit(session, "bulk_read", {"purpose": "linkage_training", "children_read": len(child_ids),
                                 "records_read": len(fields)})
    records = [LinkRecord.from_fields(row) for row in fields]
    on_step(1)
    if len(records) < 2:
        raise ValueError("the directory holds too few children to train a linkage model on")
    trained = train_model(base, records, iterations=iterations, rng=rng, on_step=on_step)
    pairs = sum(len(blocked_pairs(records, rule)) for rule in BLOCKING_RULES)
    stored = store.save_model(session, trained, created_by)
    facts = {"model": stored.label, "children": len(child_ids), "records": len(records), "blocked_pairs": pairs}
    audit(session, "linkage_model_trained", facts)
    return stored, facts


def read_pairs(lines: Iterable[str]) -> Iterator[tuple[LinkRecord, LinkRecord, bool]]:
    """Labelled pairs, one JSON object a line: {"left": {fields}, "right": {fields}, "match": true|false}."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield pair_of(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise PairsError(f"line {number}: {exc}") from None


def pair_of(pair) -> tuple[LinkRecord, LinkRecord, bool]:
    """One labelled pair {"left": {fields}, "right": {fields}, "match": bool} as two records and the label."""
    if not isinstance(pair, dict) or not isinstance(pair.get("match"), bool):
        raise ValueError('each line must be an object with "left", "right" and "match" (true or false)')
    return LinkRecord.from_fields(pair["left"]), LinkRecord.from_fields(pair["right"]), pair["match"]


def reviewed_pairs(session: Session, audit: Recorder, **details) -> list[dict]:
    """The reviewers' decisions as labelled pairs (they hold children's details): one bulk read, audited with
    their number and ``details`` (where they go)."""
    pairs = list(review.labelled_pairs(session))
    audit(session, "bulk_read", {"purpose": "linkage_labelled_pairs", "pairs": len(pairs), **details})
    return pairs


def evaluate_models(session: Session, models: list[LinkageModel], pairs: list[tuple], audit: Recorder) -> list[dict]:
    """Each model's precision, recall, F1 and review rate on the same labelled pairs, side by side, each model
    deciding as a feed load would use it (an untrained one with the directory's prior: store.for_directory)."""
    reports = [{"model": model.label, **evaluate(store.for_directory(session, model), pairs)} for model in models]
    audit(session, "linkage_model_evaluated", {"models": [r["model"] for r in reports], "pairs": len(pairs)})
    return reports


def evaluate_on_reviews(session: Session, models: list[LinkageModel], audit: Recorder) -> list[dict]:
    """``evaluate_models`` on the reviewers' decisions; no reports (nothing evaluated) while there are none."""
    pairs = [pair_of(pair) for pair in reviewed_pairs(session, audit, destination="evaluation")]
    return evaluate_models(session, models, pairs, audit) if pairs else []


def save_version(session: Session, base: LinkageModel, changes: dict, created_by: str,
                 audit: Recorder) -> LinkageModel:
    """The next version of ``base``'s name with some of EDITABLE changed, stored (not active) and audited as
    "linkage_model_saved"; LinkageModelError naming the key when the result is not a valid model."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise LinkageModelError(f"{unknown[0]}: not editable (only {', '.join(EDITABLE)})")
    model = LinkageModel.from_body({**base.to_body(), **changes})
    saved = store.save_model(session, model, created_by)
    audit(session, "linkage_model_saved", {"model": saved.label, "based_on": base.label, **changes})
    return saved


def activate(session: Session, name: str, version: int | None, activated_by: str, audit: Recorder) -> LinkageModel:
    model = store.find_model(session, name, version)
    store.activate_model(session, model, activated_by)
    audit(session, "linkage_model_activated", {"model": model.label})
    return model


def rerun(session: Session, model: LinkageModel, apply: bool, actor: str, audit: Recorder) -> dict:
    """Which automatic links ``model`` would no longer make, and which open review items it would now link.

    Applying merges the review items it would link, and takes each record it would no longer link out
    into a child of its own with a review item naming the child it left: a person decides whether they
    are one child again, so no link is undone without review.
    """
    model = store.for_directory(session, model)  # judged as a load would judge with it
    would_unlink, would_link = [], []
    linked = session.scalars(select(SourceRecord).where(SourceRecord.link_decision == "auto")).all()
    others = others_by_record(session, linked)
    for record in linked:
        if record.id not in others:
            continue
        decision, scored = would_still_link(model, record, others[record.id])
        if decision != "link":
            would_unlink.append({"source_record": record.id, "child": record.child_id,
                                 "match_weight": round(scored.weight, 2), "contributions": scored.contributions})
    for item in review.open_items(session, None, limit=100_000, offset=0):
        record = session.get(SourceRecord, item.source_record_id) if item.source_record_id else None
        if record is None:
            continue
        candidates = load_link_records(session, [c.child_id for c in item.candidates])
        row = LinkRecord.from_fields(record.payload)
        best = max(((model.score(row, rec), child_id) for child_id, (_, rec) in candidates.items()),
                   key=lambda pair: pair[0].weight, default=None)
        if best is not None and model.decide(best[0]) == "link":
            would_link.append({"review_item": item.id, "candidate_child": best[1],
                               "match_weight": round(best[0].weight, 2)})
    audit(session, "bulk_read", {"purpose": "linkage_rerun", "records_read": len(linked)})
    report = {"model": model.label, "links_checked": len(linked), "would_unlink": would_unlink,
              "would_link": would_link, "applied": apply}
    if apply:
        for change in would_link:
            item = session.get(ReviewItem, change["review_item"])
            review.decide(session, item.id, "merge", actor, item.version, candidate_child_id=change["candidate_child"])
        for change in would_unlink:
            detach_for_review(session, session.get(SourceRecord, change["source_record"]), model.label,
                              change["match_weight"], change["contributions"])
        audit(session, "linkage_rerun_applied", {"model": model.label, "unlinked_for_review": len(would_unlink),
                                                 "linked": len(would_link)})
    return report

