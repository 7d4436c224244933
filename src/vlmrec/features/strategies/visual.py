"""visual: VLM2Vec over the product image alone (prompt `<|image_pad|>`); missing images -> mean."""

from vlmrec.features.strategies._families import vlm2vec_strategy

SPEC, build = vlm2vec_strategy(
    "visual", "VLM2Vec(image alone), 1536-d for VLM2Vec-V2.0", image=True, text=False
)
