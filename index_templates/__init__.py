"""Versioned Elasticsearch index templates, one JSON file per alias."""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def load(alias: str) -> dict:
    """The template body for ``alias`` (its ``version`` is bumped on every mapping change)."""
    return json.loads((HERE / f"{alias}.json").read_text())
