"""textual: VLM2Vec over the item text "[TITLE], category: [CATEGORY]"; images are not read."""

from vlmrec.features.strategies._families import vlm2vec_strategy

SPEC, build = vlm2vec_strategy(
    "textual", "VLM2Vec(item text), 1536-d for VLM2Vec-V2.0", image=False, text=True
)
