"""Long commands: a bar with rate and ETA on a terminal; off one, only the command's summary line."""
import io
import re

import pytest

from webapp.cli import progress

from .helpers import years_ago

# tqdm's drawing: "|####  |" and a rate such as "12.3 children/s" or "4.5steps/s".
BAR = re.compile(r"\d+%\|")
RATE = re.compile(r"[\d.]+\s?\S*/s\]")


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a user's shell would."""

    def isatty(self):
        return True


def _commands(tmp_path):
    feed = tmp_path / "census.csv"
    feed.write_text("source_record_id,given_name,family_name,date_of_birth\n"
                    + "".join(f"C{n},{given},Smith,{years_ago(8).isoformat()}\n"
                              for n, given in enumerate(["Zoe", "Amara", "Kwame", "Olivia", "Harry"])))
    return [("index", "rebuild"),
            ("feed", "load", "--source", "school-census", str(feed)),
            ("relevance", "judgments", "--count", "20", "--seed", "2", "--out", str(tmp_path / "j.jsonl")),
            ("linkage", "train", "--sample", "100", "--seed", "1")]


@pytest.fixture
def directory(run):
    assert run("demo-data", "--children", "120", "--seed", "3").exit_code == 0


def test_off_a_terminal_each_long_command_prints_only_its_summary_line(run, directory, tmp_path):
    for command in _commands(tmp_path):
        result = run(*command)
        assert result.exit_code == 0, result.output
        assert len(result.output.splitlines()) == 1, (command, result.output)
        assert not BAR.search(result.output) and "/s]" not in result.output, command


def test_on_a_terminal_each_long_command_draws_a_bar_with_rate_and_eta(run, directory, tmp_path, monkeypatch):
    for command in _commands(tmp_path):
        terminal = Terminal()
        monkeypatch.setattr(progress, "stream", lambda: terminal)
        result = run(*command)
        assert result.exit_code == 0, result.output
        drawn = terminal.getvalue()
        assert BAR.search(drawn) and RATE.search(drawn), (command, drawn)
        assert "100%|" in drawn, (command, drawn)  # a known total: the bar fills, with an ETA on the way
        assert re.search(r"<\d\d:\d\d", drawn), (command, drawn)  # the ETA
        assert len(result.output.splitlines()) == 1, (command, result.output)  # the summary is unchanged
