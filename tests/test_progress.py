"""The progress reporter: it counts every item, draws only where someone watches, and never when told to be quiet."""
from __future__ import annotations

import io

from deepfake_zoo.progress import Progress, track, watched


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_counts_every_item_and_never_past_the_total():
    with Progress(10, "features", quiet=True) as bar:
        for _ in range(3):
            bar.update(4)  # a batch size that overshoots on the last batch
    assert bar.count == 10


def test_counts_without_a_total():
    with Progress(None, "blends", stream=io.StringIO()) as bar:
        bar.update(2)
        bar.update(5)
    assert bar.count == 7


def test_draws_rate_and_total_on_a_terminal():
    stream = Terminal()
    with Progress(5, "mobilenet features", stream=stream) as bar:
        bar.update(5)
    text = stream.getvalue()
    assert bar.shown and "mobilenet features" in text and "5/5" in text and "img/s" in text


def test_silent_when_stderr_is_not_a_terminal():
    stream = io.StringIO()
    with Progress(5, "features", stream=stream) as bar:
        bar.update(5)
    assert not bar.shown and stream.getvalue() == "" and bar.count == 5


def test_quiet_wins_over_a_terminal_and_force():
    stream = Terminal()
    with Progress(5, "features", quiet=True, force=True, stream=stream) as bar:
        bar.update(5)
    assert not bar.shown and stream.getvalue() == ""


def test_force_draws_into_a_file():
    stream = io.StringIO()
    with Progress(3, "features", force=True, stream=stream) as bar:
        bar.update(3)
    assert "3/3" in stream.getvalue()


def test_a_notebook_cell_counts_as_watched():
    notebook_stream = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})()
    assert watched(notebook_stream) and not watched(io.StringIO())


def test_track_yields_everything_and_counts_it():
    stream = Terminal()
    assert list(track(range(4), 4, "blends", stream=stream)) == [0, 1, 2, 3]
    assert "4/4" in stream.getvalue()
