"""One module per backbone; each registers its variants with `@register_model` and is found automatically.

Adding a backbone is one new file here (mobilenet_v3.py is a complete example): a builder
`fn(image_size, weights_path) -> keras.Model` (preprocessed input to a feature map) decorated with
`zoo.registry.register_model(...)` once per variant (`<backbone>_frozen`, `<backbone>_finetune`), declaring what the
tests check it against (`reference_preprocess`, `blocks`). Importing deepfake_zoo.zoo imports every module in this
folder, `deepfake-zoo list` shows it, and tests/zoo/ test it with no other edit.
"""
