"""Feeds never half-load: an over-long row is a row error, a header naming a column twice refuses the file."""
import io
import json
import tracemalloc

import pytest
from sqlalchemy import func, select

from registry.feeds import MAX_ROW_BYTES, FeedError, load_feed, read_rows
from registry.models import Child, SourceRecord

from .helpers import years_ago

DOB = years_ago(7).isoformat()
HEADER = "source_record_id,given_name,family_name,date_of_birth\n"
CSV_FIELD_LIMIT = 131072  # Python's csv module raises "field larger than field limit" past this


def _load(sessions, text: str | bytes, fmt="csv"):
    results = []
    data = text.encode() if isinstance(text, str) else text
    summary = load_feed(sessions, "school-census", io.BytesIO(data), fmt, on_result=results.append, batch_size=2)
    return summary, results


def _children(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Child))


def _json_row(record_id: str, given: str = "Kate", family: str = "Smith") -> str:
    return json.dumps({"source_record_id": record_id, "given_name": given, "family_name": family,
                       "date_of_birth": DOB})


def test_a_csv_cell_over_the_parsers_field_limit_rejects_its_row_and_the_rest_loads(sessions):
    rows = [f"R1,Kate,Smith,{DOB}", f"R2,{'A' * (CSV_FIELD_LIMIT + 1)},Smith,{DOB}", f"R3,Kwame,Mensah,{DOB}",
            f"R4,Amara,Okafor,{DOB}"]
    summary, results = _load(sessions, HEADER + "\n".join(rows) + "\n")
    assert [r.outcome for r in results] == ["created", "rejected", "created", "created"]
    assert results[1].errors == {"_row": [f"the row is longer than the limit of {MAX_ROW_BYTES} bytes (line 3 of "
                                          "the file): a cell is too long, or a quote left open ran the row on"]}
    assert summary.counts["created"] == 3 and _children(sessions) == 3


def test_a_quote_left_open_is_cut_off_at_the_limit_and_the_load_goes_on(sessions):
    # The open quote swallows the lines after it; past the limit the row is cut off and reading starts afresh.
    filler = ["x" * 999] * (2 * CSV_FIELD_LIMIT // 1000)
    lines = [f"R1,Kate,Smith,{DOB}", f'R2,"Kate,Smith,{DOB}', *filler, f"R3,Kwame,Mensah,{DOB}"]
    _, results = _load(sessions, HEADER + "\n".join(lines) + "\n")
    assert results[0].outcome == "created" and results[-1].outcome == "created"
    assert results[-1].source_record_id == "R3"
    cut_off = results[1].errors["_row"][0]
    assert results[1].outcome == "rejected" and cut_off.startswith("the row is longer than the limit")
    assert "(lines 3-" in cut_off and "a quote left open" in cut_off
    # The filler after the cut reads as rows of its own, each rejected.
    assert {r.outcome for r in results[2:-1]} == {"rejected"}
    assert _children(sessions) == 2


def test_a_huge_json_line_is_rejected_unread_and_the_rest_loads(sessions):
    huge = _json_row("J2", given="A" * (8 * 1024 * 1024))
    # Two different children around the huge line (two rows about one child would link: see test_linkage_feeds).
    _, results = _load(sessions, "\n".join([_json_row("J1"), huge, _json_row("J3", given="Ngozi", family="Okafor")]) + "\n",
                       fmt="jsonl")
    assert [r.outcome for r in results] == ["created", "rejected", "created"]
    assert results[1].errors == {"_row": [f"the line is longer than the limit of {MAX_ROW_BYTES} bytes "
                                          "(line 2 of the file)"]}
    assert _children(sessions) == 2


def test_a_line_at_the_limit_is_still_read(sessions):
    line = _json_row("J1")
    padded = line[:-1] + " " * (MAX_ROW_BYTES - len(line) - 1) + "}\n"  # JSON allows the white space
    assert len(padded.encode()) == MAX_ROW_BYTES
    _, results = _load(sessions, padded + padded.replace("J1", "J2", 1)[:-1] + " \n", fmt="jsonl")
    assert [r.outcome for r in results] == ["created", "rejected"]
    assert "longer than the limit" in results[1].errors["_row"][0]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_reading_a_huge_row_keeps_memory_flat(fmt):
    huge = "A" * (32 * 1024 * 1024)
    text = HEADER + f"R1,{huge},Smith,{DOB}\n" if fmt == "csv" else _json_row("J1", given=huge) + "\n"
    stream = io.BytesIO(text.encode())
    del huge, text
    tracemalloc.start()
    try:
        rows = list(read_rows(stream, fmt))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_ROW_BYTES  # the 32 MiB row was never held
    assert [type(r) for r in rows] == [ValueError]


def test_a_header_naming_a_column_twice_refuses_the_whole_file(sessions):
    header = "source_record_id,given_name,family_name,date_of_birth,family_name\n"
    rows = "".join(f"R{n},Kate,Smith,{DOB},Jones\n" for n in range(5))
    with pytest.raises(FeedError, match=r"duplicate column\(s\) in the header: 'family_name'"):
        _load(sessions, header + rows)
    assert _children(sessions) == 0
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SourceRecord)) == 0


def test_a_json_line_giving_a_column_twice_is_rejected(sessions):
    twice = json.dumps({"source_record_id": "J2", "given_name": "Kate", "family_name": "Smith",
                        "date_of_birth": DOB})[:-1] + ', "family_name": "Jones"}'
    _, results = _load(sessions, "\n".join([_json_row("J1"), twice, _json_row("J3", given="Ngozi", family="Okafor")]) + "\n",
                       fmt="jsonl")
    assert [r.outcome for r in results] == ["created", "rejected", "created"]
    assert results[1].errors == {"_row": ["the line gives 'family_name' more than once"]}


def test_feed_load_cli_refuses_a_duplicated_column_and_rejects_an_over_long_row(run, sessions, tmp_path):
    feed = tmp_path / "census.csv"
    feed.write_text("source_record_id,given_name,family_name,family_name,date_of_birth\n"
                    f"C1,Kate,Smith,Jones,{DOB}\n")
    refused = run("feed", "load", "--source", "school-census", str(feed))
    assert refused.exit_code != 0
    assert "duplicate column(s) in the header: 'family_name'" in refused.output
    assert _children(sessions) == 0

    feed.write_text(HEADER + f"C1,Kate,Smith,{DOB}\nC2,Kate,{'S' * (CSV_FIELD_LIMIT + 1)},{DOB}\n"
                    f"C3,Kwame,Mensah,{DOB}\n")
    report = tmp_path / "report.jsonl"
    result = run("feed", "load", "--source", "school-census", "--report", str(report), str(feed))
    assert result.exit_code == 1
    assert "3 rows: 2 created, 1 rejected" in result.output
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(line["row"], line["outcome"]) for line in lines] == [(1, "created"), (2, "rejected"), (3, "created")]
    assert "longer than the limit" in lines[1]["errors"]["_row"][0]
    assert _children(sessions) == 2
