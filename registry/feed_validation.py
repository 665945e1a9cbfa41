"""Feed rows validated ahead of the load: in the loading process for a short file, in a worker process for a long one.

Validation (the feed schema: some forty fields a row, each with its checks) is a third of the loading
process's time on a first load. For a long file a worker validates the next rows while the loader links
and writes the batch before, so the two run on two cores. The worker judges with the loader's clock (a
child's age is checked against the moment the loader handed the rows over), so a load sees one "today".
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from typing import Iterable, Iterator

from marshmallow import ValidationError

from analyzers import clock

from .feed_schema import FeedRowSchema

OFFLOAD_AFTER = 5_000  # rows validated in the loading process before a worker is worth its start-up (about a second)
CHUNK = 1_000          # rows a worker validates at a time
AHEAD = 3              # chunks handed to the worker before the loader waits for the first back

_schema: FeedRowSchema | None = None


def flat_errors(messages) -> dict[str, list[str]]:
    if isinstance(messages, dict):
        return {str(k): (v if isinstance(v, list) else [str(v)]) for k, v in messages.items()}
    return {"_row": [str(m) for m in (messages if isinstance(messages, list) else [messages])]}


def validate(raw: dict | Exception) -> tuple[dict | None, dict | None]:
    """One row read: (its validated fields, None), or (None, the errors by field)."""
    global _schema
    if isinstance(raw, Exception):  # the row could not even be read
        return None, {"_row": [str(raw)]}
    _schema = _schema or FeedRowSchema()
    try:
        return _schema.load(raw), None
    except ValidationError as exc:
        return None, flat_errors(exc.messages)


def _validate_chunk(raws: list, now: dt.datetime) -> list[tuple[dict | None, dict | None]]:
    with clock.pinned(now):
        return [validate(raw) for raw in raws]


def validated(rows: Iterable[dict | Exception], offload_after: int | None = None
              ) -> Iterator[tuple[dict | Exception, dict | None, dict | None]]:
    """Each row read, in order, with its validated fields or its errors: (raw, data, errors).

    With ``offload_after``, rows after that many go to a worker process. The worker is a fresh interpreter,
    which imports the caller's main module again: only a program whose main module is guarded
    (``if __name__ == "__main__"``), such as the ``contactpoint`` command, may ask for one.
    """
    rows = iter(rows)
    for raw in (rows if offload_after is None else islice(rows, offload_after)):
        yield (raw, *validate(raw))
    first = list(islice(rows, CHUNK))
    if not first:
        return
    # A fresh interpreter, not a fork: the loader may hold threads (index lookups) and open connections.
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending: deque = deque()
        chunk = first
        while chunk or pending:
            while chunk and len(pending) < AHEAD:
                pending.append((chunk, pool.submit(_validate_chunk, chunk, clock.now())))
                chunk = list(islice(rows, CHUNK))
            raws, answer = pending.popleft()
            for raw, (data, errors) in zip(raws, answer.result()):
                yield raw, data, errors
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
