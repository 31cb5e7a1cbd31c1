"""A progress bar for one-time passes (feature caches, trunk activations, self-blended images) on stderr.

A pass over 22,000 images takes minutes; without a bar the command looks hung. The bar shows images done, images per
second and time left. It is drawn only where a person is watching: a terminal, or a Jupyter/Kaggle notebook cell.
Into a log file or a CI job's captured stderr it writes nothing unless forced, because a redrawn bar there turns into
thousands of carriage-return fragments that bury the lines that matter (the estimate printed before the pass and the
summary after it already say what the pass costs). This module imports nothing of the project, so every room may use
it.
"""
from __future__ import annotations

import sys
from typing import IO, Iterable, Iterator, TypeVar

T = TypeVar("T")


def watched(stream: IO) -> bool:
    """True when `stream` reaches a person: a terminal, or a notebook kernel's output stream (which is not a TTY)."""
    if type(stream).__module__.split(".")[0] == "ipykernel":
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class Progress:
    """Counts the items of one pass and, when shown, draws a tqdm bar with items per second and time left.

    `quiet=True` never draws (the commands' --quiet); `force=True` draws even where nobody watches (debugging a
    redirected run); otherwise the bar is drawn when `stream` (default stderr) is a terminal or a notebook. `count`
    is kept whether or not the bar is drawn, so callers and tests can rely on it.

    >>> with Progress(3, "features", quiet=True) as bar:
    ...     bar.update(2); bar.update(1)
    >>> bar.count
    3
    """

    def __init__(self, total: int | None, desc: str, unit: str = "img", quiet: bool = False, force: bool = False,
                 stream: IO | None = None):
        self.total = total
        self.desc = desc
        self.count = 0
        self.stream = sys.stderr if stream is None else stream
        self.shown = not quiet and (force or watched(self.stream))
        self._bar = None
        if self.shown:
            from tqdm import tqdm

            # mininterval keeps redraws cheap on a busy 2-core machine; smoothing weighs recent batches so the time
            # left follows a pass that speeds up once the input pipeline warms.
            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, mininterval=0.5, smoothing=0.1,
                             dynamic_ncols=True, leave=True)

    def update(self, n: int = 1) -> None:
        """Add `n` finished items (never past `total`, so an over-counting caller cannot show 105%)."""
        n = int(n)
        if self.total is not None:
            n = max(0, min(n, self.total - self.count))
        self.count += n
        if self._bar is not None and n:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def track(items: Iterable[T], total: int | None, desc: str, unit: str = "img", quiet: bool = False,
          force: bool = False, stream: IO | None = None) -> Iterator[T]:
    """Yield `items` one by one, counting each on a Progress bar that closes when the loop ends or breaks."""
    with Progress(total, desc, unit=unit, quiet=quiet, force=force, stream=stream) as bar:
        for item in items:
            yield item
            bar.update(1)
