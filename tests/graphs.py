"""Counting live traced graphs: what a leak between trials leaves behind, for the memory-isolation tests."""
from __future__ import annotations

import gc

from tensorflow.python.framework.func_graph import FuncGraph


def live_graphs() -> int:
    """Traced TensorFlow graphs still reachable after a full garbage collection."""
    gc.collect()
    return sum(isinstance(o, FuncGraph) for o in gc.get_objects())
