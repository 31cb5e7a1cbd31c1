"""runs/<best>/model.keras + metrics.json -> real/fake verdicts for images, folders and videos.

>>> from deepfake_zoo.predict.models import choose_run
>>> from deepfake_zoo.predict.scoring import Predictor
>>> verdicts = Predictor(choose_run("runs")).predict_paths(["face.jpg", "clip.mp4"])  # doctest: +SKIP
"""
