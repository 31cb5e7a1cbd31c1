"""Bad files never crash a build and never change a label: each is skipped with its reason or converted to RGB."""
from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_zoo.datasets.manifest import build_manifest, load_manifest
from deepfake_zoo.datasets.pipeline import make_dataset
from deepfake_zoo.datasets.screening import screen_image
from imagefiles import make_folder_dataset, make_metadata_dataset, write_image


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_png_bomb(path: Path, side: int = 20_000) -> Path:
    """A valid 1-bit PNG of side x side black pixels: ~50 KB on disk, 400 megapixels decoded."""
    row = b"\x00" + bytes((side + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body)
                     + _png_chunk(b"IEND", b""))
    return path


def _noise(seed: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _encoded(array: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt) if mode is None else \
        Image.fromarray(array).convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def messy_data(tmp_path: Path) -> Path:
    """A folder-layout set and a metadata-layout set, each with good images and every kind of bad one."""
    data = tmp_path / "data"
    folder = make_folder_dataset(data / "messy", {(None, "Real"): 6, (None, "Fake"): 6}, seed=1)
    real, fake = folder / "Real", folder / "Fake"
    (real / "empty.jpg").write_bytes(b"")
    jpeg = _encoded(_noise(10, 64), "JPEG")
    (real / "truncated.jpg").write_bytes(jpeg[: len(jpeg) * 6 // 10])
    png = _encoded(_noise(11, 64), "PNG")
    (fake / "truncated.png").write_bytes(png[: len(png) // 2])
    broken = bytearray(png)
    at = png.index(b"IDAT") + 40
    broken[at:at + 20] = bytes(20)
    (fake / "corrupt.png").write_bytes(bytes(broken))
    (real / "notes.txt").write_text("not a picture")
    (fake / "fake_photo.jpg").write_text("<html>a web page saved as .jpg</html>")
    rgba = np.dstack([_noise(12), np.full((32, 32), 255, np.uint8)])
    rgba_see_through = rgba.copy()
    rgba_see_through[:4, :4, 3] = 0
    Image.fromarray(rgba, "RGBA").save(fake / "opaque_alpha.png")
    Image.fromarray(rgba_see_through, "RGBA").save(fake / "transparent.png")
    gray = np.random.default_rng(13).integers(0, 256, (32, 32), dtype=np.uint8)
    Image.fromarray(gray, "L").save(fake / "gray.png")
    Image.fromarray(_noise(14)).convert("CMYK").save(real / "cmyk.jpg", format="JPEG")
    deep = np.random.default_rng(15).integers(0, 65536, (32, 32), dtype=np.uint16)
    Image.fromarray(deep).save(fake / "sixteen.png")
    Image.fromarray(_noise(16)).convert("P", palette=Image.Palette.ADAPTIVE).save(real / "palette.png")
    Image.fromarray(_noise(17)).save(real / "bitmap.bmp")
    write_png_bomb(fake / "bomb.png")

    faces = make_metadata_dataset(data / "faces", n_real=6, fakes_per_real=[1], seed=2)
    (faces / "faces_224" / "r005.jpg").unlink()
    write_image(faces / "faces_224" / "stray.jpg", seed=99)
    with open(faces / "metadata.csv", "a") as table:
        table.write("odd.mp4,32,32,MAYBE,\n")
    write_image(faces / "faces_224" / "odd.jpg", seed=98)
    return data


def test_every_bad_input_is_counted_with_its_reason(messy_data, tmp_path):
    report = build_manifest(messy_data, tmp_path / "build" / "splits.csv", seed=0)
    assert report.skip_counts() == {
        "empty": 1, "truncated": 2, "corrupt": 1, "not_an_image": 2, "transparent": 1, "too_large": 1,
        "missing_file": 1, "no_metadata_row": 1, "bad_label": 1,
    }
    assert report.conversion_counts() == {
        "opaque_alpha": 1, "grayscale": 1, "cmyk": 1, "sixteen_bit": 1, "palette": 1, "other_format": 1,
    }
    assert report.skipped["faces"] == {"missing_file": 1, "no_metadata_row": 1, "bad_label": 1}
    examples = report.examples
    assert any(e.endswith("bomb.png") for e in examples["too_large"])
    assert any(e.endswith("r005.jpg") for e in examples["missing_file"])
    text = (tmp_path / "build" / "report.txt").read_text()
    for phrase in ("zero-byte file", "decompression-bomb guard", "CMYK -> RGB", "no row in metadata.csv"):
        assert phrase in text

    df = load_manifest(tmp_path / "build" / "splits.csv")
    messy = df[df.source == "messy"]
    assert (messy.label == 0).sum() == 6 + 3 and (messy.label == 1).sum() == 6 + 3
    converted = df[df.path.str.startswith(str(tmp_path / "build" / "converted"))]
    assert len(converted) == 6
    for row in converted.itertuples():
        with Image.open(row.path) as image:
            assert image.format == "PNG" and image.mode == "RGB" and image.size == (32, 32)
    faces = df[df.source == "faces"]
    assert len(faces) == 11 and not faces.path.str.contains("stray|odd|r005").any()


def test_conversions_keep_the_pixels_and_the_label(messy_data, tmp_path):
    build_manifest(messy_data, tmp_path / "m.csv", seed=0)
    df = load_manifest(tmp_path / "m.csv")
    source = messy_data / "messy" / "Fake"
    by_hash = {row.sha256: row for row in df.itertuples()}
    for name, expect in (("gray.png", lambda a: np.repeat(a[..., None], 3, axis=2)),
                         ("sixteen.png", lambda a: np.repeat(np.round(a / 257.0).astype(np.uint8)[..., None], 3, 2)),
                         ("opaque_alpha.png", lambda a: a[..., :3])):
        original = source / name
        row = by_hash[hashlib.sha256(original.read_bytes()).hexdigest()]
        assert row.label == 1 and row.path != str(original)
        assert np.array_equal(np.asarray(Image.open(row.path)), expect(np.asarray(Image.open(original))))


def test_the_pipeline_reads_every_row_of_a_messy_build(messy_data, tmp_path):
    build_manifest(messy_data, tmp_path / "m.csv", seed=0)
    df = load_manifest(tmp_path / "m.csv")
    seen = 0
    for split in ("train", "val", "test"):
        for images, labels in make_dataset(df, split, 16, batch_size=64):
            assert images.shape[1:] == (16, 16, 3)
            seen += int(labels.shape[0])
    assert seen == len(df)


def test_screen_guards_size_before_decoding(tmp_path):
    bomb = write_png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 200_000
    assert screen_image(bomb, tmp_path / "converted").skip == "too_large"
    # 64 MP is below PIL's own bomb error, so this one is stopped by our header check, before any decoding.
    big = write_png_bomb(tmp_path / "big.png", side=8_000)
    result = screen_image(big, tmp_path / "converted")
    assert (result.skip, result.width, result.height) == ("too_large", 8_000, 8_000)
    ok = screen_image(write_image(tmp_path / "ok.jpg", 1), tmp_path / "converted")
    assert ok.skip is None and ok.path == tmp_path / "ok.jpg" and not (tmp_path / "converted").exists()
