"""`deepfake-zoo data` (datasets.cli) and the all-or-nothing Kaggle download."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from deepfake_zoo.datasets import kaggle
from deepfake_zoo.datasets import cli
from deepfake_zoo.datasets.kaggle import KaggleDownloadError, download_kaggle
from deepfake_zoo.datasets.manifest import load_manifest
from imagefiles import make_folder_dataset, make_metadata_dataset


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=cli.__doc__)
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv))


def test_help_text_and_defaults():
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.data, args.manifest, args.seed, args.cap_per_class) == (None, "build/splits.csv", 0, 16000)
    assert (args.val_fraction, args.test_fraction, args.kaggle) == (0.15, 0.15, False)
    assert "build/splits.csv" in cli.__doc__.splitlines()[0]


def test_builds_and_prints_the_report(two_sources, tmp_path, capsys):
    manifest = tmp_path / "out" / "splits.csv"
    assert _run(["--data", str(two_sources), "--manifest", str(manifest), "--seed", "2", "--cap-per-class", "10",
                 "--val-fraction", "0.2", "--test-fraction", "0.1"]) == 0
    printed = capsys.readouterr().out
    assert "faceset" in printed and "leakage audit: passed" in printed
    assert printed == (tmp_path / "out" / "report.txt").read_text()
    df = load_manifest(manifest)
    assert df[df.source == "faceset"].groupby("label").size().to_dict() == {0: 10, 1: 10}


def test_bad_folder_fails_with_one_sentence(tmp_path, capsys):
    assert _run(["--data", str(tmp_path / "nope"), "--manifest", str(tmp_path / "m.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path / "nope") in err and "KAGGLE=1" in err


def _fake_kaggle(handle: str, output_dir: str) -> str:
    """Stand-in for kagglehub: lays the files out the way the two Kaggle datasets come."""
    out = Path(output_dir)
    if handle == "dagnelies/deepfake-faces":
        make_metadata_dataset(out, n_real=6, fakes_per_real=[1], seed=3)
    else:
        make_folder_dataset(out / "Dataset", {("Train", "Real"): 3, ("Train", "Fake"): 3,
                                              ("Test", "Real"): 2, ("Test", "Fake"): 2}, seed=4)
    return str(out)


def test_kaggle_downloads_land_whole_and_are_built(tmp_path, monkeypatch, capsys):
    real_download = kaggle.download_kaggle
    monkeypatch.setattr(kaggle, "download_kaggle", lambda data: real_download(data, downloader=_fake_kaggle))
    data = tmp_path / "data"
    assert _run(["--kaggle", "--data", str(data), "--manifest", str(tmp_path / "m.csv")]) == 0
    assert sorted(p.name for p in data.iterdir()) == ["deepfake-and-real-images", "deepfake-faces"]
    df = load_manifest(tmp_path / "m.csv")
    assert df.groupby("source").size().to_dict() == {"deepfake-and-real-images": 10, "deepfake-faces": 12}
    assert "kaggle:" in capsys.readouterr().out


def test_failed_download_leaves_nothing_half_written(tmp_path):
    def flaky(handle: str, output_dir: str) -> str:
        if handle == "manjilkarki/deepfake-and-real-images":
            (Path(output_dir) / "Dataset" / "Train").mkdir(parents=True)
            (Path(output_dir) / "Dataset" / "Train" / "part.jpg").write_bytes(b"half")
            raise ConnectionError("Name or service not known")
        return _fake_kaggle(handle, output_dir)

    data = tmp_path / "data"
    with pytest.raises(KaggleDownloadError) as err:
        download_kaggle(data, downloader=flaky)
    message = str(err.value)
    assert "manjilkarki/deepfake-and-real-images" in message and "credentials" in message
    assert "\n" not in message
    # The finished dataset stays; the failed one left no folder and no temporary files behind.
    assert sorted(p.name for p in data.iterdir()) == ["deepfake-faces"]
    # A second run skips what is there and only retries the missing one.
    calls = []
    download_kaggle(data, downloader=lambda h, o: calls.append(h) or _fake_kaggle(h, o))
    assert calls == ["manjilkarki/deepfake-and-real-images"]
