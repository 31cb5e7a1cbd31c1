"""A local web page and JSON API answering "is this picture real?" with one trained run, safe to leave running.

The model and the face detector load once, when the app is made. Each upload is bounded (bytes before it is parsed,
pixels by the same screening rule as `data`), checked by its content rather than its name, scored in a private
temporary folder that is removed before the answer leaves, and only `max_pending` requests may be waiting or running
at once: the next gets 503 with a message instead of a hang. No answer ever carries a traceback, and nothing in a
request (its file name included) chooses a path on disk.

>>> app = create_app(choose_run("runs"))  # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""
from __future__ import annotations

import base64
import io
import logging
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

# At module level: FastAPI reads the handlers' annotations (strings, under `from __future__ import annotations`)
# from this module's globals to know which parameter is the request.
from fastapi import Request

from deepfake_zoo.predict.models import Run
from deepfake_zoo.runfiles import read_external, read_holdout

LOG = logging.getLogger("deepfake_zoo.serve")
API_PATH = "/api/predict"
# Image formats the training decoder reads (after screening converts BMP/GIF/WebP to PNG), by PIL's format name.
IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "GIF": ".gif", "WEBP": ".webp"}
# Multipart framing around the file: boundary lines and part headers are well under this.
FORM_OVERHEAD = 16 * 1024


@dataclass(frozen=True)
class Limits:
    """What one request may cost: upload bytes, and requests waiting or running at once (beyond: 503)."""

    max_bytes: int = 20 * 1024 * 1024
    max_pending: int = 4
    frames: int = 16


class UploadTooLarge(Exception):
    """The request body grew past the upload limit while it was being received."""


class Busy(Exception):
    """Every slot in the bounded queue is taken."""


def sniff_kind(data: bytes) -> tuple[str, str] | None:
    """("image" | "video", suffix) judged from the bytes themselves, or None when it is neither kind we read."""
    from PIL import Image, UnidentifiedImageError

    head = data[:16]
    if head[4:8] == b"ftyp":
        return "video", (".mov" if head[8:10] == b"qt" else ".mp4")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", ".avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video", ".mkv"
    try:
        with Image.open(io.BytesIO(data)) as image:
            suffix = IMAGE_FORMATS.get(image.format or "")
    except Image.DecompressionBombError:
        return "image", ".png"  # screening answers too_large for it, by the one pixel rule
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    return ("image", suffix) if suffix else None


def _number(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "not recorded"


def model_card(run: Run) -> dict:
    """What the page says about the model: its in-domain test numbers, the data it saw, and how far to trust it."""
    metrics = run.metrics
    sources = metrics.get("train_sources")
    trained_on = ", ".join(str(s) for s in sources) if isinstance(sources, list) and sources else "not recorded"
    if metrics.get("data_is_synthetic"):
        trained_on += " (synthetic demo data: the numbers say nothing about real photos)"
    n_test = metrics.get("n_test")
    measured = f"{n_test} held-out test images" if isinstance(n_test, int) else "held-out test images"
    # Sets it never trained on: `evaluate` results and held-out sources, read by the page's own rules.
    external, _ = read_external(run.path)
    holdout, _ = read_holdout(metrics)
    cross_text = "; ".join(f"{name}: ROC AUC {_number(values, 'roc_auc')}"
                           for name, values in sorted({**external, **holdout}.items()))
    return {
        "name": run.name, "threshold": run.threshold, "image_size": run.image_size,
        "accuracy": _number(metrics, "accuracy"), "roc_auc": _number(metrics, "roc_auc"),
        "trained_on": trained_on, "cross": cross_text,
        "trust": (f"These numbers were measured on {measured} from the same sources it was trained on. On photos "
                  "from elsewhere (other cameras, other fakes) expect it to do worse, and treat a P(fake) near the "
                  "threshold as a guess."),
    }


class Scorer:
    """The loaded run behind the service: one scoring at a time, and a count of the requests waiting for it."""

    def __init__(self, run: Run, limits: Limits, model=None, faces: str = "auto"):
        from deepfake_zoo.datasets.faces import face_detector
        from deepfake_zoo.predict.scoring import Predictor

        self.run = run
        self.limits = limits
        self.predictor = Predictor(run, model=model, batch_size=8, faces=faces, keep_inputs=True)
        if faces != "none":
            face_detector()  # load MTCNN's three networks now, not in the first person's request
        self._model_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.pending = 0

    def reserve(self) -> None:
        """Take a queue slot or raise Busy."""
        with self._count_lock:
            if self.pending >= self.limits.max_pending:
                raise Busy
            self.pending += 1

    def release(self) -> None:
        with self._count_lock:
            self.pending -= 1

    def score(self, data: bytes, kind: str, suffix: str, name: str, explain: bool) -> dict:
        """The `predict --json` report for one upload (plus heatmaps when asked), scored in a private folder."""
        from deepfake_zoo.predict import report
        from deepfake_zoo.predict.explain import ExplainUnavailableError, verdict_overlays
        from deepfake_zoo.predict.inputs import InputItem

        # mkdtemp makes the folder readable by this user only; the file inside has a fixed name, so the client's
        # file name never reaches the filesystem.
        with tempfile.TemporaryDirectory(prefix="deepfake-zoo-serve-") as private:
            path = Path(private) / f"upload{suffix}"
            path.write_bytes(data)
            item = InputItem(str(path), kind)
            with self._model_lock:
                verdict = self.predictor.predict_items([item], frames=self.limits.frames)[0]
                heatmaps, note = [], None
                if explain and verdict.status == "scored":
                    try:
                        heatmaps = [base64.b64encode(png).decode("ascii")
                                    for png in verdict_overlays(self.predictor.model, verdict)]
                    except ExplainUnavailableError as exc:
                        note = f"no heatmap: {exc}"
        verdict.path = name
        if verdict.error:
            verdict.error = verdict.error.replace(str(path), name)
        verdict.inputs, verdict.crops = [], []
        answer = report.report_dict([verdict], self.run, self.run.ranked_by)
        if explain:
            answer["heatmaps"] = heatmaps
            if note:
                answer["heatmap_note"] = note
        return answer


def _holds(exc: BaseException, kind: type) -> bool:
    """Whether `exc` is `kind`, or an exception group (anyio wraps task errors in them) that holds one."""
    if isinstance(exc, kind):
        return True
    return any(_holds(inner, kind) for inner in getattr(exc, "exceptions", ()))


class BoundedBody:
    """ASGI middleware capping request bodies: Starlette would otherwise spool an upload of any size to disk before
    the handler could look at it. A declared Content-Length over the cap is refused at once; a body sent without one
    is counted as it arrives and refused (413) as soon as it passes the cap."""

    def __init__(self, app, max_body: int, message: str):
        self.app, self.max_body, self.message = app, max_body, message

    async def __call__(self, scope, receive, send):
        from fastapi.responses import JSONResponse

        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        refuse = JSONResponse({"detail": self.message}, status_code=413)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await refuse(scope, receive, send)
            return
        seen, started = 0, False

        async def bounded_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise UploadTooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracked_send)
        except Exception as exc:
            if not _holds(exc, UploadTooLarge) or started:
                raise
            await refuse(scope, receive, send)


def _display_name(filename: str | None) -> str:
    """The client's file name, only ever shown back: its last part, printable, at most 120 characters."""
    name = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:120]
    return name or "upload"


def create_app(run: Run, limits: Limits = Limits(), model=None, faces: str = "auto"):
    """The FastAPI app serving `run`: GET / (the page), GET /api/model, POST /api/predict (multipart `file`)."""
    import anyio
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from deepfake_zoo.predict.templates import render_page

    scorer = Scorer(run, limits, model=model, faces=faces)
    card = model_card(run)
    page = render_page(card)
    max_body = limits.max_bytes + FORM_OVERHEAD
    app = FastAPI(title="deepfake-zoo", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.scorer = scorer

    def refuse(status: int, message: str) -> JSONResponse:
        return JSONResponse({"detail": message}, status_code=status)

    limit = (f"{limits.max_bytes / (1024 * 1024):g} MB" if limits.max_bytes >= 1024 * 1024
             else f"{limits.max_bytes:,} bytes")
    too_large = f"the upload is larger than {limit}; send a smaller image or a shorter video"

    app.add_middleware(BoundedBody, max_body=max_body, message=too_large)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc):
        return refuse(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc):
        return refuse(422, "send the image or video as a multipart form field named `file`")

    @app.exception_handler(Exception)
    async def _unexpected(request, exc):
        LOG.exception("unexpected error while answering %s", request.url.path)
        return refuse(500, "something went wrong while scoring this file; the server log has the details")

    @app.get("/", response_class=HTMLResponse)
    async def index():
        return HTMLResponse(page)

    @app.get("/api/model")
    async def describe():
        return card

    @app.post(API_PATH)
    async def predict(request: Request, explain: bool = False):
        try:
            scorer.reserve()
        except Busy:
            return refuse(503, f"busy: {limits.max_pending} requests are already waiting or being scored; try again "
                               "in a moment")
        try:
            form = await request.form(max_files=1, max_fields=4)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return refuse(422, "send the image or video as a multipart form field named `file`")
            data = await upload.read(limits.max_bytes + 1)
            name = _display_name(upload.filename)
            await form.close()
            if len(data) > limits.max_bytes:
                return refuse(413, too_large)
            if not data:
                return refuse(422, "the uploaded file is empty; choose an image or a video")
            sniffed = sniff_kind(data)
            if sniffed is None:
                return refuse(415, "this file is not an image or video the service reads; send a JPEG, PNG, BMP, "
                                   "GIF or WebP image, or an MP4, MOV, AVI, MKV or WebM video")
            kind, suffix = sniffed
            answer = await anyio.to_thread.run_sync(scorer.score, data, kind, suffix, name, explain)
        finally:
            scorer.release()
        result = answer["results"][0]
        if result.get("skip") == "too_large":
            return refuse(413, result["error"])
        return JSONResponse(answer)

    return app


def serve(run: Run, host: str = "127.0.0.1", port: int = 8000, limits: Limits = Limits(),
          faces: str = "auto") -> None:
    """Load `run` once and serve the page until interrupted."""
    import uvicorn

    app = create_app(run, limits, faces=faces)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"deepfake-zoo serve: listening on {host}: anyone who can reach this address can upload files; "
              "use the default 127.0.0.1 to keep it to this computer", flush=True)
    print(f"deepfake-zoo serve: model {run.name}; open http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)

