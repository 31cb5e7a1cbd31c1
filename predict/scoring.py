"""Score images and videos with one trained run: P(fake), the run's threshold, and a real/fake label per input."""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepfake_zoo.datasets.faces import DetectorUnavailableError, crop_face, detect_faces, face_crops, is_tight_crop
from deepfake_zoo.predict.inputs import InputItem, collect_inputs
from deepfake_zoo.predict.models import Run, load_model
from deepfake_zoo.predict.video import VideoDecodeError, sample_frames

# Status of a verdict: scored (label and prob_fake set), no_face (a video where no sampled frame had a face, or an
# image under --faces crop without one, so there is nothing honest to score), skipped (an image `data` would skip
# too: transparent, too large, no faithful RGB; `skip` names the reason), error (unreadable, unsupported,
# undecodable).
SCORED, NO_FACE, SKIPPED, ERROR = "scored", "no_face", "skipped", "error"
# Screening reasons that are a policy shared with `data` rather than a broken file.
POLICY_SKIPS = frozenset({"transparent", "too_large", "unsupported_mode"})
# What an image's P(fake) was computed on: the cropped faces, or the whole image (already a face crop, no face
# found under --faces auto, or --faces none).
ON_FACES, ON_WHOLE = "faces", "whole_image"


@dataclass
class Verdict:
    """The answer for one input.

    `label` / `prob_fake` are None unless `status` is "scored"; the frame fields are set for videos only
    (`frame_scores[i]` is P(fake) of the face in frame `frame_indices[i]`).
    """

    path: str
    kind: str
    status: str
    model: str
    threshold: float
    label: str | None = None
    prob_fake: float | None = None
    frames_sampled: int | None = None
    frames_with_face: int | None = None
    frame_scores: list[float] | None = None
    frame_indices: list[int] | None = None
    error: str | None = None
    scored_on: str | None = None
    faces: list[dict] | None = None
    note: str | None = None
    skip: str | None = None
    # Model inputs (float32, size x size x 3) and the pixels they came from, one per face (or the whole image), kept
    # only when asked for (--explain, the web page): the heatmaps are drawn on them.
    inputs: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)
    crops: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == SCORED


def _thumbnail(pixels: np.ndarray, side: int = 448) -> np.ndarray:
    """A uint8 copy no larger than `side` on its longer edge: enough for a heatmap overlay, small enough to keep."""
    import cv2

    height, width = pixels.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return np.array(pixels, dtype=np.uint8)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(np.asarray(pixels, dtype=np.uint8), size, interpolation=cv2.INTER_AREA)


def _face_record(box) -> dict:
    """A face as the reports carry it: its box [x, y, width, height] and the detector's confidence."""
    return {"box": box.as_list(), "confidence": round(box.confidence, 4), "prob_fake": None, "label": None}


def _short_reason(exc: Exception) -> str:
    """The human part of a TensorFlow error: without its "{{function_node ...}}" prefix and "[Op:...]" suffix."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    text = re.sub(r"\{\{[^}]*\}\}", "", text)
    text = re.sub(r"\s*\[Op:.*$", "", text, flags=re.S)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


class Predictor:
    """A loaded run that scores raw RGB images of any size, resized exactly as the training pipeline resizes them.

    >>> predictor = Predictor(choose_run("runs"))  # doctest: +SKIP
    >>> [v.label for v in predictor.predict_paths(["face.jpg", "clip.mp4"])]  # doctest: +SKIP
    ['fake', 'real']
    """

    def __init__(self, run: Run, model=None, batch_size: int = 32, faces: str = "auto", keep_inputs: bool = False,
                 flip: bool = False):
        from deepfake_zoo.datasets.faces import FACE_MODES

        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}; pass --batch-size 1 or more")
        if faces not in FACE_MODES:
            raise ValueError(f"unknown face mode {faces!r}; use one of {', '.join(FACE_MODES)}")
        self.run = run
        self.model = model if model is not None else load_model(run)
        self.batch_size = batch_size
        self.faces = faces
        self.keep_inputs = keep_inputs
        # Test-time flip: P(fake) is the mean over the image and its mirror (a face is as real mirrored). A run
        # tested that way is always scored that way: its threshold was chosen on flipped-and-averaged scores.
        self.flip = bool(flip or run.tta_flip)

    def label_for(self, prob_fake: float) -> str:
        """"fake" at or above the run's validation-chosen threshold, else "real"."""
        return "fake" if prob_fake >= self.run.threshold else "real"

    def score_batch(self, images: np.ndarray) -> np.ndarray:
        """P(fake) for float32 (N, size, size, 3) raw RGB images already at the run's image size."""
        if len(images) == 0:
            return np.zeros((0,), dtype=np.float32)
        probs = self._forward(images)
        if self.flip:
            probs = (probs + self._forward(images[:, :, ::-1, :])) / 2
        if self.run.temperature is not None:
            from deepfake_zoo.search.calibration import apply_temperature

            probs = apply_temperature(probs, self.run.temperature).astype(np.float32)
        return probs

    def _forward(self, images: np.ndarray) -> np.ndarray:
        probs = self.model.predict(np.ascontiguousarray(images), batch_size=self.batch_size, verbose=0)
        return np.asarray(probs, dtype=np.float32).reshape(len(images), -1)[:, 0]

    def score_arrays(self, arrays: list[np.ndarray]) -> np.ndarray:
        """P(fake) for RGB arrays (HxWx3, 0..255) of any size, each resized with datasets.images.resize_for_model."""
        from deepfake_zoo.datasets.images import resize_for_model

        resized = [np.asarray(resize_for_model(array, self.run.image_size)) for array in arrays]
        return self.score_batch(np.stack(resized) if resized else np.zeros((0,)))

    def _verdict(self, item: InputItem, **fields) -> Verdict:
        return Verdict(path=item.path, kind=item.kind, model=self.run.name, threshold=self.run.threshold, **fields)

    def predict_images(self, items: list[InputItem]) -> list[Verdict]:
        """Verdicts for image items: screened as `data` screens them, faces found and cropped, scored in batches.

        Each file goes through datasets.screening.screen_image first (one rule for both rooms: too many pixels or
        transparent pixels are skipped before any full decode into memory), then is decoded exactly as training
        decodes. Images are handled `batch_size` at a time so a folder of photos never sits in memory at once.
        """
        verdicts: list[Verdict] = []
        # screen_image writes an RGB PNG for images it converts (grayscale, BMP, ...); those belong to this call only.
        with tempfile.TemporaryDirectory(prefix="deepfake-zoo-predict-") as converted:
            for start in range(0, len(items), self.batch_size):
                verdicts.extend(self._predict_image_chunk(items[start:start + self.batch_size], Path(converted)))
        return verdicts

    def _read_image(self, item: InputItem, converted: Path) -> np.ndarray | Verdict:
        """The image as uint8 RGB, decoded as training decodes it, or a verdict saying why it is not scored."""
        import tensorflow as tf

        from deepfake_zoo.datasets.images import decode_rgb
        from deepfake_zoo.datasets.screening import SKIP_REASONS, screen_image

        screened = screen_image(item.path, converted)
        if screened.skip in POLICY_SKIPS:
            size = f" ({screened.width} x {screened.height})" if screened.width else ""
            return self._verdict(item, status=SKIPPED, skip=screened.skip,
                                 error=f"skipped {item.path}{size}: {SKIP_REASONS[screened.skip]}, as `data` skips it")
        if screened.skip:
            return self._verdict(item, status=ERROR, skip=screened.skip,
                                 error=f"cannot read image {item.path} ({SKIP_REASONS[screened.skip]}); is it a "
                                       f"valid image file?")
        try:
            return decode_rgb(tf.io.read_file(str(screened.path))).numpy()
        except Exception as exc:  # TensorFlow raises InvalidArgumentError/NotFoundError for bad files
            return self._verdict(item, status=ERROR,
                                 error=f"cannot read image {item.path} ({_short_reason(exc)}); is it a valid image "
                                       "file?")

    def _plan_image(self, item: InputItem, image: np.ndarray) -> tuple[list[np.ndarray], dict] | Verdict:
        """(the pixels to score, verdict fields) for one decoded image under the face mode, or a no-face verdict."""
        if self.faces == "none":
            return [image], {"scored_on": ON_WHOLE, "faces": []}
        boxes = detect_faces(image)
        if not boxes:
            if self.faces == "crop":
                return self._verdict(item, status=NO_FACE, faces=[],
                                     error="no face found; nothing to score with --faces crop (use --faces auto to "
                                           "score the whole image)")
            return [image], {"scored_on": ON_WHOLE, "faces": [],
                             "note": "no face found: the whole image was scored, which the model was not trained on"}
        if self.faces == "auto" and is_tight_crop(image, boxes[0]):
            return [image], {"scored_on": ON_WHOLE, "faces": [_face_record(boxes[0])],
                             "note": "already a face crop: scored as it is"}
        return [crop_face(image, box) for box in boxes], {"scored_on": ON_FACES,
                                                          "faces": [_face_record(box) for box in boxes]}

    def _predict_image_chunk(self, items: list[InputItem], converted: Path) -> list[Verdict]:
        from deepfake_zoo.datasets.images import resize_for_model

        verdicts: list[Verdict | None] = [None] * len(items)
        # Each image is reduced to its model inputs (and, for heatmaps, small copies of what was scored) as soon as
        # it is planned: a chunk of large photos must not sit in memory decoded at full size.
        plans: list[tuple[int, list[np.ndarray], list[np.ndarray], dict]] = []
        for position, item in enumerate(items):
            image = self._read_image(item, converted)
            if isinstance(image, Verdict):
                verdicts[position] = image
                continue
            try:
                plan = self._plan_image(item, image)
            except DetectorUnavailableError as exc:
                plan = self._verdict(item, status=ERROR, error=f"{exc} (or pass --faces none)")
            if isinstance(plan, Verdict):
                verdicts[position] = plan
                continue
            pixels, fields = plan
            inputs = [np.asarray(resize_for_model(p, self.run.image_size)) for p in pixels]
            shown = [_thumbnail(p) for p in pixels] if self.keep_inputs else []
            plans.append((position, inputs, shown, fields))
            del image, pixels
        batch = [array for _, inputs, _, _ in plans for array in inputs]
        probs = iter(float(p) for p in self.score_batch(np.stack(batch) if batch else np.zeros((0,))))
        for position, inputs, shown, fields in plans:
            scores = [next(probs) for _ in inputs]
            if fields["scored_on"] == ON_FACES:
                for face, score in zip(fields["faces"], scores):
                    face.update(prob_fake=score, label=self.label_for(score))
            elif fields["faces"]:
                fields["faces"][0].update(prob_fake=scores[0], label=self.label_for(scores[0]))
            # The image is fake when any face is: its P(fake) is the most suspicious face's.
            prob = max(scores)
            verdict = self._verdict(items[position], status=SCORED, prob_fake=prob, label=self.label_for(prob),
                                    **fields)
            if self.keep_inputs:
                verdict.inputs, verdict.crops = inputs, shown
            verdicts[position] = verdict
        return verdicts  # type: ignore[return-value]

    def predict_video(self, item: InputItem, frames: int = 16) -> Verdict:
        """Verdict for one video: the mean P(fake) over the sampled frames that show a face.

        Each sampled frame's largest face is cropped like the training crops and scored; the verdict keeps the
        per-frame scores and how many frames had a face. A video without any face gets status "no_face".
        """
        from deepfake_zoo.datasets.images import resize_for_model

        try:
            images, indices, _ = sample_frames(item.path, frames)
        except VideoDecodeError as exc:
            return self._verdict(item, status=ERROR, error=str(exc))
        crops = face_crops(images)
        with_face = [(index, crop) for index, crop in zip(indices, crops) if crop is not None]
        if not with_face:
            return self._verdict(item, status=NO_FACE, frames_sampled=len(images), frames_with_face=0,
                                 frame_scores=[], frame_indices=[],
                                 error=f"no face found in any of the {len(images)} sampled frames; nothing to score")
        scores = [float(p) for p in self.score_arrays([crop for _, crop in with_face])]
        prob = float(np.mean(scores))
        verdict = self._verdict(item, status=SCORED, prob_fake=prob, label=self.label_for(prob),
                                frames_sampled=len(images), frames_with_face=len(with_face), frame_scores=scores,
                                frame_indices=[index for index, _ in with_face], scored_on=ON_FACES)
        if self.keep_inputs:
            # The most suspicious frame is the one worth explaining.
            top = int(np.argmax(scores))
            verdict.crops = [with_face[top][1]]
            verdict.inputs = [np.asarray(resize_for_model(with_face[top][1], self.run.image_size))]
        return verdict

    def predict_items(self, items: list[InputItem], frames: int = 16) -> list[Verdict]:
        """Verdicts for collected items, in their order; errors found while collecting are passed through."""
        verdicts: list[Verdict | None] = [None] * len(items)
        image_positions = [i for i, item in enumerate(items) if item.kind == "image"]
        for position, verdict in zip(image_positions, self.predict_images([items[i] for i in image_positions])):
            verdicts[position] = verdict
        for position, item in enumerate(items):
            if item.kind == "video":
                try:
                    verdicts[position] = self.predict_video(item, frames)
                except DetectorUnavailableError as exc:
                    verdicts[position] = self._verdict(item, status=ERROR, error=str(exc))
            elif item.kind == "error":
                verdicts[position] = self._verdict(item, status=ERROR, error=item.error)
        return verdicts  # type: ignore[return-value]

    def predict_paths(self, paths: list[str | Path], frames: int = 16) -> list[Verdict]:
        """Verdicts for files and folders (searched recursively): one per image, video or bad file."""
        return self.predict_items(collect_inputs(paths), frames)
