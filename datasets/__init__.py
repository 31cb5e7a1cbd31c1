"""Real files -> the split manifest (build/splits.csv) -> tf.data batches, for every model in the zoo.

- `datasets.manifest`: `build_manifest`, `load_manifest`, `manifest_sha256` (reads both Kaggle layouts, screens
  files, splits by leakage group, writes the manifest and its report).
- `datasets.audit`: `audit_leakage`, `LeakageError`.
- `datasets.pipeline`: `make_dataset`, `AUGMENTATIONS`, `augment_names`.
- `datasets.images`: the one decode/resize path shared with `predict`.
- `datasets.demo`: `make_demo_dataset`, the synthetic data used when no dataset is given.
- `datasets.kaggle`: `download_kaggle`, used by `make data KAGGLE=1`.
"""
