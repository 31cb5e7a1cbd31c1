"""The project installs as one namespace, beside a notebook's own `datasets` (Hugging Face's name), and leaves it be."""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOMS = ("datasets", "zoo", "search", "leaderboard", "predict")


def _pip(*args: str, cwd: Path | None = None) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--quiet", *args], check=True, cwd=cwd, timeout=600)


def _stand_in_datasets(folder: Path) -> Path:
    """A tiny distribution named `datasets`, standing in for Hugging Face's; returns its wheel's folder."""
    project = folder / "hf-datasets"
    (project / "datasets").mkdir(parents=True)
    (project / "datasets" / "__init__.py").write_text('MARKER = "not deepfake-zoo"\n')
    (project / "datasets" / "arrow.py").write_text("def load():\n    return 42\n")
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "datasets"
        version = "99.0"
        [tool.setuptools]
        packages = ["datasets"]
    """))
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(folder / "wheels"), str(project))
    return folder / "wheels"


@pytest.mark.slow
def test_install_beside_another_datasets_and_uninstall_leaves_it(tmp_path):
    wheels = _stand_in_datasets(tmp_path)
    # From a copy: setuptools builds in the source tree, and a stale build/lib there would end up in later wheels.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv*", ".git", "build", "runs", "__pycache__",
                                                                 "*.egg-info", ".pytest_cache", ".ci-keras"))
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source))
    env_dir = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())

    def pip_fresh(*args: str) -> None:
        _pip("--python", str(python), *args)

    pip_fresh("install", "--no-deps", "--no-index", "--find-links", str(wheels), "datasets==99.0")
    pip_fresh("install", "--no-deps", "--no-index", "--find-links", str(wheels), "deepfake-zoo")
    # Then the fresh environment borrows this one's third-party packages (TensorFlow, pandas...) *after* its own, the
    # way a notebook image already holds them; this one's editable deepfake_zoo is not seen (.pth files in a borrowed
    # folder are not run), and pip must not see it either, so the link is made only for the imports.
    borrowed = site / "zz-borrowed.pth"
    borrowed.write_text(sysconfig.get_paths()["purelib"] + "\n")

    installed = {p.name for p in site.iterdir() if not p.name.endswith((".dist-info", ".pth")) and p.name != "__pycache__"}
    assert "deepfake_zoo" in installed and not installed & {"zoo", "search", "leaderboard", "predict"}
    # The page's templates and static files are package data: a page rendered from the wheel needs them.
    for room, name in (("leaderboard", "templates/page.html"), ("predict", "templates/serve.html"),
                       ("predict", "static/serve.js")):
        assert (site / "deepfake_zoo" / room / name).is_file(), name
    check = textwrap.dedent(f"""
        import datasets, datasets.arrow
        assert datasets.MARKER == "not deepfake-zoo" and datasets.arrow.load() == 42, datasets.__file__
        import deepfake_zoo.datasets.manifest, deepfake_zoo.zoo, deepfake_zoo.search.config, deepfake_zoo.predict.cli
        for room in {ROOMS!r}:
            module = __import__("deepfake_zoo." + room, fromlist=["_"])
            assert module.__file__.startswith({str(site)!r}), module.__file__
        assert deepfake_zoo.zoo.list_models(), "no model registered"
    """)
    # Run outside the checkout, so nothing can come from the repository root.
    subprocess.run([str(python), "-c", check], check=True, cwd=tmp_path, timeout=300)
    help_text = subprocess.run([str(env_dir / "bin" / "deepfake-zoo"), "--help"], cwd=tmp_path, check=True,
                               capture_output=True, text=True, timeout=300)
    assert "search" in help_text.stdout and "oneDNN" not in help_text.stderr + help_text.stdout

    borrowed.unlink()
    pip_fresh("uninstall", "--yes", "deepfake-zoo")
    assert not (site / "deepfake_zoo").exists()
    subprocess.run([str(python), "-c", "import datasets.arrow; assert datasets.arrow.load() == 42"], check=True,
                   cwd=tmp_path, timeout=120)
    assert (site / "datasets" / "__init__.py").is_file() and (site / "datasets" / "arrow.py").is_file()
