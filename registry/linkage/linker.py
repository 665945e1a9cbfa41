"""Incremental linkage of feed rows: which child, if any, a new source record describes.

For a batch of rows, candidates come from three places: the search index (through a finder the
caller supplies, because only ``search_service`` builds queries), the database for exact
identifiers (NHS number, UPN), and the rows of this same load (an in-memory blocking index, since
the index does not see children made minutes ago). Every candidate is read from the database once
a load (then kept, with the rows the load joined to it) and scored by the linkage model; the best
decides: link, review or create.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Callable, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from analyzers import family_name_keys, given_name_keys, normalise_postcode, transposed
from analyzers.dates import parse_iso_date

from ..bulk import among
from ..models import Child, ChildAddress, ChildName, SourceRecord
from .model import LinkageModel
from .records import LinkRecord
from .store import GrowingDirectory

# rows -> for each row, the ContactPoint IDs the index proposes (best first)
CandidateFinder = Callable[[Sequence[dict]], list[list[str]]]
REVIEW_CANDIDATES = 5
KEPT_RECORDS = 500_000  # candidate records a load keeps between batches (about 1 KB each)
RIVAL_WITHIN = 3.0  # bits: a second child that would link this close to the best (8 times as likely) makes a review


@dataclass
class ScoredCandidate:
    child_id: int             # negative: a child of this batch not inserted yet (see Linker.rename)
    cp_id: str | None
    weight: float
    contributions: dict


@dataclass
class LinkDecision:
    """What linkage decided for one row: ``outcome`` is "link", "review" or "create"."""
    outcome: str
    best: ScoredCandidate | None = None
    candidates: list[ScoredCandidate] = field(default_factory=list)  # worth a reviewer's look, best first

    @property
    def weight(self) -> float | None:
        return self.best.weight if self.best else None


def _date(value) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    return parse_iso_date(value) if value else None


def blocking_keys(fields: dict) -> set[int]:
    """Keys under which a row meets the rows of the same load that may be the same child.

    Given and family sound keys share one namespace, so swapped names still meet; keys are hashed to
    integers so a million-row load keeps its blocking index in a few hundred megabytes.
    """
    keys: set[str] = set()
    if fields.get("nhs_number"):
        keys.add(f"n{fields['nhs_number']}")
    if fields.get("upn"):
        keys.add(f"u{fields['upn']}")
    dob = _date(fields.get("date_of_birth"))
    given = given_name_keys(fields.get("given_name") or "")
    family = family_name_keys(fields.get("family_name") or "")
    sounds = set(given.phonetic[:1]) | set(family.phonetic[:1])
    if dob is not None:
        keys |= {f"d{dob.isoformat()}{key}" for key in sounds}
        swapped = transposed(dob)
        if swapped is not None:
            keys |= {f"d{swapped.isoformat()}{key}" for key in family.phonetic[:1]}
    postcode = normalise_postcode(fields.get("postcode"))
    if postcode:
        keys |= {f"p{postcode}{key}" for key in given.phonetic[:1]}
    return {hash(key) for key in keys}


def load_link_records(session: Session, child_ids: Iterable[int]) -> dict[int, tuple[str, LinkRecord]]:
    """Each active child's (cp_id, LinkRecord): every name, every known postcode and address, identifiers."""
    ids = list(set(child_ids))
    if not ids:
        return {}
    # Plain rows through the connection: the ORM's result machinery would cost more than the reads themselves.
    connection = session.connection()
    rows = connection.execute(select(Child.id, Child.cp_id, Child.given_name, Child.middle_names, Child.family_name,
                                  Child.date_of_birth, Child.gender, Child.postcode, Child.address_line_1,
                                  Child.nhs_number, Child.upn)
                           .where(among(session, Child.id, ids), Child.status == "active")).all()
    names: dict[int, list] = defaultdict(list)
    for child_id, given, middle, family in connection.execute(
            select(ChildName.child_id, ChildName.given_name, ChildName.middle_names, ChildName.family_name)
            .where(among(session, ChildName.child_id, ids)).order_by(ChildName.id)):
        names[child_id].append((given, middle, family))
    addresses: dict[int, list] = defaultdict(list)
    for child_id, postcode, line in connection.execute(
            select(ChildAddress.child_id, ChildAddress.postcode, ChildAddress.address_line_1)
            .where(among(session, ChildAddress.child_id, ids)).order_by(ChildAddress.last_seen.desc())):
        addresses[child_id].append((postcode, line))
    records = {}
    for child_id, cp_id, given, middle, family, dob, gender, postcode, line, nhs, upn in rows:
        others = [{"given_name": g, "middle_names": m, "family_name": f} for g, m, f in dict.fromkeys(names[child_id])
                  if (g, m, f) != (given, middle, family)]
        records[child_id] = (cp_id, LinkRecord.from_fields({
            "given_name": given, "middle_names": middle, "family_name": family, "date_of_birth": dob,
            "gender": gender, "postcode": postcode, "address_line_1": line, "nhs_number": nhs, "upn": upn,
            "other_names": others, "previous_postcodes": [p for p, _ in addresses[child_id]],
            "previous_address_lines": [a for _, a in addresses[child_id]]}))
    return records


def _with_row(record: LinkRecord, row: LinkRecord) -> LinkRecord:
    """A child's record once a row joined it: the row's names and address count too."""
    def merged(first: tuple, second: tuple) -> tuple:
        return tuple(dict.fromkeys(first + second))
    return LinkRecord(names=merged(record.names, row.names), date_of_birth=record.date_of_birth,
                      gender=record.gender or row.gender, postcodes=merged(record.postcodes, row.postcodes),
                      address_lines=merged(record.address_lines, row.address_lines),
                      nhs_number=record.nhs_number or row.nhs_number, upn=record.upn or row.upn)


class Linker:
    """Decides, row by row, which child a new source record describes. One per load."""

    def __init__(self, model: LinkageModel, finder: CandidateFinder | None = None,
                 directory: GrowingDirectory | None = None):
        self.model = model
        self.directory = directory
        self._lookups: list[tuple[Sequence[dict], Future]] = []   # index lookups started ahead (prefetch)
        self._pool: ThreadPoolExecutor | None = None
        self.finder = finder
        self._blocks: dict[int, int | list[int]] = {}              # this load's rows, by blocking key
        self._pending: dict[int, set[int]] = {}                   # row index in batch -> candidate child ids
        self._rows: list[tuple[LinkRecord, set[int]]] = []        # row index in batch -> (record, blocking keys)
        self._records: dict[int, tuple[str, LinkRecord]] = {}     # candidate child id -> (cp_id, record), kept
        self._placeholder_keys: set[int] = set()                  # keys holding children not inserted yet

    @classmethod
    def for_directory(cls, session: Session, model: LinkageModel, finder: CandidateFinder | None = None) -> "Linker":
        """A linker whose untrained model follows the directory as the load grows it (store.GrowingDirectory)."""
        directory = GrowingDirectory(session, model)
        return cls(directory.model, finder, directory)

    def added(self, session: Session, children: int) -> None:
        """A batch made ``children`` new children."""
        if self.directory is not None:
            self.model = self.directory.added(session, children)

    def prefetch(self, rows: Sequence[dict]) -> None:
        """Start looking ``rows`` up in the index now, in the background: their batch is prepared later.

        Nothing the index answers depends on the batches applied meanwhile (children this load makes are
        not indexed yet; they meet later rows through the load's own blocking index).
        """
        if self.finder is None or not rows:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linkage-lookup")
        self._lookups.append((rows, self._pool.submit(self.finder, rows)))

    def _proposed(self, rows: Sequence[dict]) -> list[list[str]]:
        for position, (started, lookup) in enumerate(self._lookups):
            if len(started) == len(rows) and all(a is b for a, b in zip(started, rows)):
                del self._lookups[position]
                return lookup.result()
        return self.finder(rows)

    def close(self) -> None:
        """Wait for lookups still under way (a failed load leaves some) and stop the background thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._lookups.clear()

    def prepare(self, session: Session, rows: Sequence[dict]) -> None:
        """Find and read the candidates of a batch of new rows in a few round trips."""
        self._pending = {i: set() for i in range(len(rows))}
        self._rows = [(LinkRecord.from_fields(row), blocking_keys(row)) for row in rows]
        if self.finder is not None and rows:
            proposed = self._proposed(rows)
            cp_ids = {cp for found in proposed for cp in found}
            by_cp = dict(session.execute(select(Child.cp_id, Child.id).where(among(session, Child.cp_id, cp_ids)))
                         .tuples().all()) if cp_ids else {}
            for i, found in enumerate(proposed):
                self._pending[i] |= {by_cp[cp] for cp in found if cp in by_cp}
        self._add_identifier_candidates(session, rows)
        for i, (_, keys) in enumerate(self._rows):
            self._pending[i] |= self._block_members(keys)
        wanted = set().union(*self._pending.values()) if self._pending else set()
        self._read_records(session, wanted)

    def _read_records(self, session: Session, wanted: set[int]) -> None:
        """Have the records of ``wanted`` at hand: read those not kept from earlier batches, and drop kept ones
        no longer active (merged or archived meanwhile by someone else). A first load of a million rows meets
        most of its candidates among its own children, so it reads almost nothing."""
        kept = [child_id for child_id in wanted if child_id in self._records and child_id > 0]
        if kept:
            for child_id in session.connection().execute(select(Child.id).where(
                    among(session, Child.id, kept), Child.status != "active")).scalars():
                del self._records[child_id]
        if len(self._records) > KEPT_RECORDS:  # the older half goes; a later batch reads those again if it must
            self._records = dict(islice(self._records.items(), len(self._records) - KEPT_RECORDS // 2, None))
        self._records.update(load_link_records(session, [c for c in wanted if c not in self._records]))

    def forget(self, child_ids: Iterable[int]) -> None:
        """These children were changed other than by a row joining them: read them again when next wanted."""
        for child_id in child_ids:
            self._records.pop(child_id, None)

    def _block_members(self, keys: set[int]) -> set[int]:
        found: set[int] = set()
        for key in keys:
            members = self._blocks.get(key)
            if isinstance(members, int):
                found.add(members)
            elif members:
                found.update(members)
        return found

    def _add_identifier_candidates(self, session: Session, rows: Sequence[dict]) -> None:
        for column in ("nhs_number", "upn"):
            values = {row[column] for row in rows if row.get(column)}
            if not values:
                continue
            owners: dict[str, set[int]] = defaultdict(set)
            for value, child_id in session.execute(
                    select(getattr(SourceRecord, column), SourceRecord.child_id)
                    .where(among(session, getattr(SourceRecord, column), values))):
                owners[value].add(child_id)
            for value, child_id in session.execute(
                    select(getattr(Child, column), Child.id).where(among(session, getattr(Child, column), values))):
                owners[value].add(child_id)
            for i, row in enumerate(rows):
                self._pending[i] |= owners.get(row.get(column), set())

    def decide(self, session: Session, index: int) -> LinkDecision:
        """Link, review or create for row ``index`` of the prepared batch."""
        record, keys = self._rows[index]
        candidate_ids = set(self._pending.get(index, set()))
        candidate_ids |= self._block_members(keys)  # rows earlier in this batch
        missing = [c for c in candidate_ids if c not in self._records]
        if missing:
            self._records.update(load_link_records(session, missing))
        scored = []
        for child_id in candidate_ids:
            if child_id not in self._records:
                continue  # merged or archived since it was indexed
            cp_id, candidate = self._records[child_id]
            result = self.model.score(record, candidate)
            scored.append((self.model.decide(result), ScoredCandidate(child_id, cp_id, result.weight,
                                                                       result.contributions)))
        scored.sort(key=lambda item: -item[1].weight)
        reviewable = [c for outcome, c in scored if outcome in ("link", "review")][:REVIEW_CANDIDATES]
        if not scored:
            return LinkDecision("create")
        outcome, best = scored[0]
        if outcome == "link":
            if any(other == "link" and candidate.weight > best.weight - RIVAL_WITHIN for other, candidate in scored[1:]):
                # Two children the row could as well join (twins both known, or one child already held twice): a
                # person decides which, never the order of the candidates.
                return LinkDecision("review", best, reviewable)
            return LinkDecision("link", best, reviewable)
        if reviewable:
            return LinkDecision("review", reviewable[0], reviewable)
        return LinkDecision("create", best)

    def rename(self, real: dict[int, tuple[int, str]]) -> None:
        """Children remembered under placeholders (negative ids) were inserted: use their ids from now on."""
        if not real:
            return
        for key in self._placeholder_keys:
            members = self._blocks[key]
            if isinstance(members, int):
                if members in real:
                    self._blocks[key] = real[members][0]
            else:
                members[:] = [real[m][0] if m in real else m for m in members]
        for placeholder, (child_id, cp_id) in real.items():
            if placeholder in self._records:
                self._records[child_id] = (cp_id, self._records.pop(placeholder)[1])
        self._placeholder_keys.clear()

    def remember(self, child_id: int, cp_id: str | None, index: int) -> None:
        """Row ``index`` of the batch now belongs to ``child_id``: later rows of this load may be the same child."""
        record, keys = self._rows[index]
        if child_id < 0:
            self._placeholder_keys |= keys
        for key in keys:
            members = self._blocks.get(key)
            if members is None:
                self._blocks[key] = child_id
            elif isinstance(members, int):
                if members != child_id:
                    self._blocks[key] = [members, child_id]
            elif child_id not in members:
                members.append(child_id)
        known = self._records.get(child_id)
        self._records[child_id] = (cp_id, _with_row(known[1], record) if known else record)
