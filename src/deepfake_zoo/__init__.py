"""deepfake-zoo: is this face deepfaked? A model zoo, an honest benchmark and a detector you can run.

The Python API (`build_split`, `search`, `ensemble`, `render_leaderboard`, `predict`) mirrors the `deepfake-zoo` CLI; it is
loaded on first use so importing the package (or one of its rooms) stays light. The rooms install beneath this name:
deepfake_zoo.datasets, .zoo, .search, .leaderboard, .predict.
"""
from __future__ import annotations

__all__ = ["build_split", "search", "ensemble", "render_leaderboard", "predict"]


def __getattr__(name: str):
    if name in __all__:
        from deepfake_zoo import api

        return getattr(api, name)
    raise AttributeError(f"module 'deepfake_zoo' has no attribute {name!r}")
