"""Commands print their own output only: TensorFlow's C++ start-up lines appear with --verbose, never by default."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NOISE = ("oneDNN custom operations", "absl::InitializeLog", "cuInit", "cudart_stub", "cpu_feature_guard")


def _zoo(*args: str, cwd: Path) -> str:
    exe = shutil.which("deepfake-zoo", path=str(Path(sys.executable).parent))
    env = {k: v for k, v in os.environ.items() if k not in ("DEEPFAKE_ZOO_DEBUG", "TF_CPP_MIN_LOG_LEVEL")}
    done = subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
def test_tensorflow_start_up_lines_only_when_asked(tmp_path):
    # A command that really runs TensorFlow ops, in worker processes too (the demo's images are decoded and checked).
    quiet = _zoo("data", "--manifest", "build/splits.csv", cwd=tmp_path)
    assert "synthetic" in quiet.lower() and [n for n in NOISE if n in quiet] == []
    assert "oneDNN custom operations" in _zoo("--verbose", "data", "--manifest", "build/splits.csv", cwd=tmp_path)
