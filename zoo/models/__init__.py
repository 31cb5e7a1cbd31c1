"""One module per backbone; each registers its variants with `@register_model` and is found automatically."""
