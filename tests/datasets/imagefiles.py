"""Write small generated image files in both dataset layouts, for the datasets tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, seed: int, size: int = 32, fmt: str = "JPEG", mode: str = "RGB") -> Path:
    """Write a small noisy image whose pixels depend only on `seed` (so two seeds never collide)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGB").convert(mode).save(path, format=fmt)
    return path


def make_folder_dataset(root: Path, per_folder: dict[tuple[str | None, str], int], seed: int = 0) -> Path:
    """Write `{split}/{Label}/img_i.jpg` files (split None = plain {Real,Fake}); counts per (split folder, label)."""
    k = 0
    for (split, label), n in per_folder.items():
        folder = root / split / label if split else root / label
        for i in range(n):
            write_image(folder / f"img_{i:03d}.jpg", seed=seed * 100_000 + k)
            k += 1
    return root


def make_metadata_dataset(root: Path, n_real: int, fakes_per_real: list[int], seed: int = 0) -> Path:
    """Write faces_224/*.jpg + metadata.csv: real video r{i}, and fakes f{i}_{j} made from it (fakes share originals)."""
    faces = root / "faces_224"
    rows = ["videoname,original_width,original_height,label,original"]
    k = 0
    for i in range(n_real):
        write_image(faces / f"r{i:03d}.jpg", seed=seed * 100_000 + k)
        k += 1
        rows.append(f"r{i:03d}.mp4,32,32,REAL,")
        for j in range(fakes_per_real[i % len(fakes_per_real)]):
            write_image(faces / f"f{i:03d}_{j}.jpg", seed=seed * 100_000 + k)
            k += 1
            rows.append(f"f{i:03d}_{j}.mp4,32,32,FAKE,r{i:03d}.mp4")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root
