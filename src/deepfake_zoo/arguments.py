"""Argument types every room's CLI shares (ground floor: imports nothing of the project)."""
from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more, else a one-line usage error naming what was given."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value
