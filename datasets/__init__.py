"""Real files -> the split manifest (build/splits.csv) -> tf.data batches, for every model in the zoo.

- `datasets.manifest`: `build_manifest`, `load_manifest`, `manifest_sha256` (reads both Kaggle layouts, screens
  files, splits by leakage group, writes the manifest and its report).
- `datasets.audit`: `audit_leakage`, `LeakageError`.
- `datasets.pipeline`: `make_dataset`, `AUGMENTATIONS` (every policy), `SEARCHED_AUGMENTATIONS` and
  `FROZEN_AUGMENTATIONS` (the ones a search picks from; `zoo.search_space` re-exports them), `augment_names`.
- `datasets.screening`: `screen_image`, the one rule for which files are usable (pixel limit, transparency, FIFOs,
  ...) that `data` and `predict` share; `SKIP_REASONS`, `MAX_PIXELS`.
- `datasets.images`: the one decode/resize path shared with `predict`.
- `datasets.faces`: the one face step (MTCNN, crop framed like the training crops) shared with `predict`;
  `datasets.cropping`: `crop_sources`, `FaceCropCache`, the `data --faces crop|auto` step that uses it.
- `datasets.demo`: `make_demo_dataset`, the synthetic data used when no dataset is given, and its `SYNTHETIC_MARKER`.
- `datasets.kaggle`: `download_kaggle`, used by `make data KAGGLE=1`.
"""
