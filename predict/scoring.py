"""Score images and videos with one trained run: P(fake), the run's threshold, and a real/fake label per input."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_zoo.predict.inputs import InputItem, collect_inputs
from deepfake_zoo.predict.models import Run, load_model
from deepfake_zoo.predict.video import DetectorUnavailableError, VideoDecodeError, face_crops, sample_frames

# Status of a verdict: scored (label and prob_fake set), no_face (a video where no sampled frame had a face, so
# there is nothing honest to score), error (unreadable, unsupported, undecodable).
SCORED, NO_FACE, ERROR = "scored", "no_face", "error"


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

    @property
    def ok(self) -> bool:
        return self.status == SCORED


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

    def __init__(self, run: Run, model=None, batch_size: int = 32):
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}; pass --batch-size 1 or more")
        self.run = run
        self.model = model if model is not None else load_model(run)
        self.batch_size = batch_size

    def label_for(self, prob_fake: float) -> str:
        """"fake" at or above the run's validation-chosen threshold, else "real"."""
        return "fake" if prob_fake >= self.run.threshold else "real"

    def score_batch(self, images: np.ndarray) -> np.ndarray:
        """P(fake) for float32 (N, size, size, 3) raw RGB images already at the run's image size."""
        if len(images) == 0:
            return np.zeros((0,), dtype=np.float32)
        probs = self.model.predict(images, batch_size=self.batch_size, verbose=0)
        return np.asarray(probs, dtype=np.float32).reshape(len(images), -1)[:, 0]

    def score_arrays(self, arrays: list[np.ndarray]) -> np.ndarray:
        """P(fake) for RGB arrays (HxWx3, 0..255) of any size, each resized with datasets.images.resize_for_model."""
        from deepfake_zoo.datasets.images import resize_for_model

        resized = [np.asarray(resize_for_model(array, self.run.image_size)) for array in arrays]
        return self.score_batch(np.stack(resized) if resized else np.zeros((0,)))

    def _verdict(self, item: InputItem, **fields) -> Verdict:
        return Verdict(path=item.path, kind=item.kind, model=self.run.name, threshold=self.run.threshold, **fields)

    def predict_images(self, items: list[InputItem]) -> list[Verdict]:
        """Verdicts for image items, read with datasets.images.load_for_model and scored `batch_size` at a time."""
        verdicts: list[Verdict] = []
        for start in range(0, len(items), self.batch_size):
            verdicts.extend(self._predict_image_chunk(items[start:start + self.batch_size]))
        return verdicts

    def _predict_image_chunk(self, items: list[InputItem]) -> list[Verdict]:
        from deepfake_zoo.datasets.images import load_for_model

        verdicts: list[Verdict | None] = [None] * len(items)
        loaded, positions = [], []
        for position, item in enumerate(items):
            try:
                loaded.append(load_for_model(item.path, self.run.image_size))
                positions.append(position)
            except Exception as exc:  # TensorFlow raises InvalidArgumentError/NotFoundError for bad files
                verdicts[position] = self._verdict(
                    item, status=ERROR, error=f"cannot read image {item.path} ({_short_reason(exc)}); is it a valid image file?")
        probs = self.score_batch(np.stack(loaded)) if loaded else []
        for position, prob in zip(positions, probs):
            prob = float(prob)
            verdicts[position] = self._verdict(items[position], status=SCORED, prob_fake=prob,
                                               label=self.label_for(prob))
        return verdicts  # type: ignore[return-value]

    def predict_video(self, item: InputItem, frames: int = 16) -> Verdict:
        """Verdict for one video: the mean P(fake) over the sampled frames that show a face.

        Each sampled frame's largest face is cropped like the training crops and scored; the verdict keeps the
        per-frame scores and how many frames had a face. A video without any face gets status "no_face".
        """
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
        return self._verdict(item, status=SCORED, prob_fake=prob, label=self.label_for(prob),
                             frames_sampled=len(images), frames_with_face=len(with_face), frame_scores=scores,
                             frame_indices=[index for index, _ in with_face])

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
