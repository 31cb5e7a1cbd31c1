"""`deepfake-zoo serve` in a subprocess, used from headless Chromium as a person would: drop a photo, read it."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from browser import CHROMIUM_ARGS, chromium

pytestmark = [pytest.mark.browser, pytest.mark.realdata, pytest.mark.slow]

ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "serve.png"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained_runs, tmp_path_factory):
    """`deepfake-zoo serve --model tiny_64` on a free port; yields its URL once the page answers."""
    import httpx

    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "deepfake_zoo.cli", "serve", "--runs", str(trained_runs),
                                    "--model", "tiny_64", "--port", str(port)], stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):  # loading TensorFlow, the model and MTCNN: bounded, never a hang
            if process.poll() is not None:
                pytest.fail(f"serve exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail(f"serve did not answer on {url}: {log.read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_person_drops_a_photo_and_sees_the_faces_verdict_and_heatmap(server, face_crops, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    rng = np.random.default_rng(0)
    photo = cv2.GaussianBlur(rng.integers(40, 220, (600, 900, 3), dtype=np.uint8), (0, 0), 8)
    face = cv2.resize(cv2.imread(str(face_crops["held_out"][0])), (180, 180), interpolation=cv2.INTER_AREA)
    photo[180:360, 360:540] = face
    path = tmp_path / "holiday.jpg"
    cv2.imwrite(str(path), photo, [cv2.IMWRITE_JPEG_QUALITY, 95])

    requests, errors = [], []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            # A phone-sized window: the page must read there.
            page = browser.new_page(viewport={"width": 420, "height": 900}, device_scale_factor=2)
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(server, wait_until="load")
            assert "tiny_64" in page.inner_text("#about")
            page.set_input_files("#file", str(path))
            page.wait_for_selector("#result:not([hidden]) .box", timeout=120_000)
            page.wait_for_function("(maps => maps.length > 0 && maps.every(i => i.naturalWidth > 0))("
                                   "Array.from(document.querySelectorAll('img.heatmap')))", timeout=60_000)
            verdict = page.inner_text("#verdict")
            boxes = page.eval_on_selector_all(".box", "els => els.map(e => e.getBoundingClientRect().width)")
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACT), full_page=True)
        finally:
            browser.close()

    assert verdict.startswith(("Fake", "Real")) and "P(fake)" in verdict
    assert len(boxes) == 1 and boxes[0] > 20
    assert scroll_width <= 420  # nothing wider than the phone
    assert errors == []
    assert all(url.startswith((server, "blob:", "data:")) for url in requests), requests
