"""prompt1 (simple): VLM2Vec(image + text + instruction) -> one fused vector per item.

Items without an image follow `features.missing_image_fused` (default text_only: the prompt
without the placeholder is encoded; mean: they get the mean fused vector). See docs/features.md.
"""

from vlmrec.features.strategies._families import vlm2vec_strategy

SPEC, build = vlm2vec_strategy(
    "prompt1",
    "VLM2Vec(<image> text + 'Generate a unified representation for this product.')",
    image=True,
    text=True,
)
