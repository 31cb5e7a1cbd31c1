"""Render the --explain summary and the `serve` page from predict/templates/ and predict/static/ (package data).

Python hands the templates data; the markup is in the .html templates, the style and behaviour in static/, inlined
into each page so it works offline and from disk.
"""
from __future__ import annotations

from pathlib import Path

import jinja2

_HERE = Path(__file__).resolve().parent
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(_HERE / "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _static(name: str) -> str:
    return (_HERE / "static" / name).read_text(encoding="utf-8")


def render_explain(entries: list[dict], run) -> str:
    """The --explain summary: per input its verdict, note and heatmap files (names relative to the page)."""
    return _ENV.get_template("explain.html").render(entries=entries, run=run, css=_static("predict.css"))


def render_page(model: dict) -> str:
    """The `serve` page for `model` (name, threshold, accuracy, roc_auc, trained_on, cross, trust as display text)."""
    return _ENV.get_template("serve.html").render(model=model, css=_static("predict.css"), js=_static("serve.js"))
