"""Download the two Kaggle datasets the notebook used into a data folder, all or nothing, with kagglehub."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from deepfake_zoo.datasets.layouts import detect_layout

# Folder name under --data (it becomes the manifest's `source`) -> Kaggle handle.
KAGGLE_DATASETS = {
    "deepfake-faces": "dagnelies/deepfake-faces",
    "deepfake-and-real-images": "manjilkarki/deepfake-and-real-images",
}


class KaggleDownloadError(RuntimeError):
    """kagglehub is missing, or a download failed (no network, no credentials, unknown dataset)."""


def download_kaggle(data: str | Path, datasets: dict[str, str] | None = None, downloader=None) -> list[Path]:
    """Download each dataset into `<data>/<name>/` and return those folders; ones already present are kept as is.

    Each download lands in a temporary folder inside `data` and is moved into place only when complete, so a failure
    leaves nothing half-written. `downloader(handle, output_dir)` defaults to `kagglehub.dataset_download`.
    Raises KaggleDownloadError with one sentence naming the dataset and the fix.
    """
    data = Path(data)
    datasets = KAGGLE_DATASETS if datasets is None else datasets
    if downloader is None:
        try:
            import kagglehub
        except ImportError as exc:
            raise KaggleDownloadError("kagglehub is not installed: run `pip install -e '.[kaggle]'` "
                                      "(or `make setup`), then `make data KAGGLE=1` again") from exc

        def downloader(handle: str, output_dir: str) -> str:
            return kagglehub.dataset_download(handle, output_dir=output_dir)

    data.mkdir(parents=True, exist_ok=True)
    folders = []
    for name, handle in datasets.items():
        target = data / name
        if target.is_dir() and any(target.iterdir()):
            folders.append(target)
            continue
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".part", dir=data))
        try:
            downloaded = Path(downloader(handle, str(staging / name)))
            if not downloaded.is_dir() or not any(downloaded.iterdir()):
                raise KaggleDownloadError(f"kagglehub returned no files for {handle}")
            # Some archives wrap everything in one folder; keep the folder that holds the layout.
            inner = [c for c in downloaded.iterdir() if c.is_dir()]
            if detect_layout(downloaded) is None and len(inner) == 1 and detect_layout(inner[0]):
                downloaded = inner[0]
            if target.exists():
                target.rmdir()
            shutil.move(str(downloaded), str(target))
        except KaggleDownloadError:
            raise
        except Exception as exc:  # kagglehub raises many types (HTTP, auth, OS); all mean the same to the user
            raise KaggleDownloadError(
                f"could not download {handle} with kagglehub ({type(exc).__name__}): check the "
                "network and Kaggle credentials (~/.kaggle/kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY), "
                "or pass DATA=<folder> with the datasets already downloaded") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        folders.append(target)
    return folders
