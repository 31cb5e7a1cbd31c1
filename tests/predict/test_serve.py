"""The `serve` API through FastAPI's TestClient: answers like `predict --json`, and stays safe under bad uploads."""
from __future__ import annotations

import io
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from deepfake_zoo.datasets.screening import MAX_PIXELS
from deepfake_zoo.predict import report, scoring
from deepfake_zoo.predict.models import choose_run
from deepfake_zoo.predict.serve import Limits, Scorer, create_app
from predict_fixtures import big_grey_png, blank_wall_video


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Every temporary file the service (or Starlette's upload spooling) makes goes here, so leftovers show."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def png_bytes(array) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def noise_png(seed: int = 0, size: int = 48) -> bytes:
    return png_bytes(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def make_client(runs, **limits) -> TestClient:
    app = create_app(choose_run(runs, model="tiny"), Limits(**limits), faces="none")
    return TestClient(app, raise_server_exceptions=False)


def post(client, data: bytes, name: str = "photo.png", explain: bool = False):
    return client.post("/api/predict" + ("?explain=1" if explain else ""), files={"file": (name, data)})


def test_the_api_answers_what_predict_json_answers(tiny_runs, private_tmp, tmp_path):
    client = make_client(tiny_runs)
    data = noise_png()
    answer = post(client, data, name="holiday.png").json()

    assert tuple(answer) == report.REPORT_KEYS
    result = answer["results"][0]
    assert result["path"] == "holiday.png" and result["status"] == "scored"
    # The same file through the predict room gives the same number.
    (tmp_path / "same.png").write_bytes(data)
    predictor = scoring.Predictor(choose_run(tiny_runs, model="tiny"), faces="none")
    assert result["prob_fake"] == pytest.approx(predictor.predict_paths([tmp_path / "same.png"])[0].prob_fake,
                                                abs=1e-6)
    assert list(private_tmp.iterdir()) == []


def test_the_page_is_self_contained_and_names_the_model_and_its_numbers(tiny_runs):
    page = make_client(tiny_runs).get("/").text
    assert "tiny" in page and "0.500" in page and "demo" in page
    # Nothing fetched from elsewhere: the page works offline (its one link is an empty inline icon).
    assert "http://" not in page and "https://" not in page and "src=\"//" not in page
    assert page.count("<link") == 1 and '<link rel="icon" href="data:,">' in page
    assert 'name="viewport"' in page


def test_the_type_is_judged_by_content_not_name(tiny_runs, private_tmp):
    client = make_client(tiny_runs)
    refused = post(client, b"#!/bin/sh\necho not a picture\n", name="evil.png")
    assert refused.status_code == 415 and "not an image or video" in refused.json()["detail"]
    accepted = post(client, noise_png(1), name="picture.txt")
    assert accepted.status_code == 200 and accepted.json()["results"][0]["status"] == "scored"
    assert list(private_tmp.iterdir()) == []


def test_oversize_uploads_and_too_many_pixels_are_refused(tiny_runs, private_tmp, tmp_path):
    client = make_client(tiny_runs, max_bytes=50_000)
    big = post(client, noise_png(2, size=200))  # ~120 KB of incompressible pixels
    assert big.status_code == 413 and "larger than 50,000 bytes" in big.json()["detail"]
    side = int(MAX_PIXELS ** 0.5) + 100
    big_grey_png(tmp_path / "bomb.png", side, side)
    bomb_bytes = (tmp_path / "bomb.png").read_bytes()
    assert len(bomb_bytes) < 200_000  # small on disk: only the pixel rule can catch it
    bomb = post(make_client(tiny_runs, max_bytes=200_000), bomb_bytes)
    assert bomb.status_code == 413 and "pixels" in bomb.json()["detail"]
    assert list(private_tmp.iterdir()) == []


def test_a_body_sent_without_a_length_is_cut_off_at_the_limit(tiny_runs, private_tmp):
    client = make_client(tiny_runs, max_bytes=10_000)

    def chunks():  # a generator body goes out chunked, with no Content-Length to refuse up front
        yield b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        for _ in range(100):
            yield b"\0" * 1000
        yield b"\r\n--xx--\r\n"

    response = client.post("/api/predict", content=chunks(),
                           headers={"content-type": "multipart/form-data; boundary=xx"})
    assert response.request.headers.get("content-length") is None
    assert response.status_code == 413 and "larger than 10,000 bytes" in response.json()["detail"]
    assert list(private_tmp.iterdir()) == []


def test_a_flood_is_answered_or_refused_cleanly(tiny_runs, private_tmp, monkeypatch):
    client = make_client(tiny_runs, max_pending=2)
    release, entered = threading.Event(), threading.Semaphore(0)
    real_score = Scorer.score

    def held(self, *args, **kwargs):
        entered.release()
        release.wait(timeout=60)
        return real_score(self, *args, **kwargs)

    monkeypatch.setattr(Scorer, "score", held)
    data = noise_png(3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = [pool.submit(post, client, data) for _ in range(2)]
        for _ in range(2):
            assert entered.acquire(timeout=60)  # both slots are taken and held
        refused = [pool.submit(post, client, data).result(timeout=60) for _ in range(6)]
        release.set()
        answered = [future.result(timeout=60) for future in first]
    assert [r.status_code for r in answered] == [200, 200]
    assert [r.status_code for r in refused] == [503] * 6
    assert all("busy" in r.json()["detail"] for r in refused)
    assert post(client, data).status_code == 200  # the slots came back
    assert list(private_tmp.iterdir()) == []


def test_no_traceback_in_any_answer(tiny_runs, private_tmp, monkeypatch):
    client = make_client(tiny_runs)

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail at /home/someone/runs")

    monkeypatch.setattr(scoring.Predictor, "predict_items", broken)
    response = post(client, noise_png(4))
    assert response.status_code == 500
    assert "Traceback" not in response.text and "secret" not in response.text
    assert "server log" in response.json()["detail"]
    malformed = client.post("/api/predict", data={"notfile": "x"})
    assert malformed.status_code == 422 and "Traceback" not in malformed.text
    assert list(private_tmp.iterdir()) == []


def test_the_model_is_loaded_once(tiny_runs, monkeypatch):
    loads = []
    real_load = scoring.load_model
    monkeypatch.setattr(scoring, "load_model", lambda run: loads.append(run.name) or real_load(run))
    client = make_client(tiny_runs)
    for seed in range(3):
        assert post(client, noise_png(seed)).status_code == 200
    assert loads == ["tiny"]


def test_explain_returns_one_heatmap_per_scored_input(tiny_runs):
    answer = post(make_client(tiny_runs), noise_png(5), explain=True).json()
    assert len(answer["heatmaps"]) == 1
    import base64

    assert base64.b64decode(answer["heatmaps"][0])[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_a_video_is_recognised_by_its_bytes_and_answered(tiny_runs, private_tmp, tmp_path):
    video = tmp_path / "wall.avi"
    blank_wall_video(video)
    answer = post(make_client(tiny_runs), video.read_bytes(), name="clip.png")
    assert answer.status_code == 200
    result = answer.json()["results"][0]
    assert (result["kind"], result["status"], result["frames_sampled"]) == ("video", "no_face", 8)
    assert "clip.png" == result["path"] and "deepfake-zoo-serve" not in answer.text
    assert list(private_tmp.iterdir()) == []


def test_serve_flags_default_to_this_computer_and_check_the_port(capsys):
    from deepfake_zoo.cli import build_parser

    args = build_parser().parse_args(["serve", "--model", "tiny"])
    assert (args.host, args.port, args.model, args.faces) == ("127.0.0.1", 8000, "tiny", "auto")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--port", "70000"])
    assert "65535" in capsys.readouterr().err


def test_serve_without_a_model_says_how_to_train_one(tmp_path, capsys):
    from deepfake_zoo.predict import serve_cli

    assert serve_cli.main(["--runs", str(tmp_path / "runs")]) == 2
    assert "make search" in capsys.readouterr().err


def test_the_model_card_shows_the_sets_the_model_never_trained_on(tmp_path):
    import json as _json

    from predict_fixtures import write_tiny_run

    from deepfake_zoo.predict.models import read_run
    from deepfake_zoo.predict.serve import model_card

    folder = write_tiny_run(tmp_path / "runs", "tiny", holdout={"other-faces": {"roc_auc": 0.52, "n": 10}})
    (folder / "external" / "gan-faces").mkdir(parents=True)
    (folder / "external" / "gan-faces" / "metrics.json").write_text(_json.dumps({"roc_auc": 0.61, "n": 20}))
    card = model_card(read_run(folder))
    assert "gan-faces: ROC AUC 0.61" in card["cross"] and "other-faces: ROC AUC 0.52" in card["cross"]
