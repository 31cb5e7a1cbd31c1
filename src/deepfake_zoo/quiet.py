"""Import TensorFlow without its C++ start-up lines (oneDNN, CUDA stub, absl's pre-init warning) on stderr.

TensorFlow 2.21 writes those lines (and, on first device use, the CUDA probe's) from C++ before Python's logging or TF_CPP_MIN_LOG_LEVEL can act, so the only way
to keep them out of a command's output is to point file descriptor 2 elsewhere while the library loads. What was
written is kept: if the import fails, it is replayed so no error is ever hidden.
"""
from __future__ import annotations

import os
import sys
import tempfile


def debug_enabled() -> bool:
    """True when DEEPFAKE_ZOO_DEBUG=1 asks for TensorFlow's own messages and full tracebacks."""
    return os.environ.get("DEEPFAKE_ZOO_DEBUG") == "1"


def import_tensorflow_quietly(verbose: bool = False) -> None:
    """Import tensorflow (once) with its start-up lines hidden unless `verbose` or DEEPFAKE_ZOO_DEBUG=1."""
    if "tensorflow" in sys.modules or verbose or debug_enabled():
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow

            # Device discovery logs too (a machine without a GPU gets "failed call to cuInit"), once, at first use.
            tensorflow.config.list_physical_devices()
        except Exception:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
