"""prompt2 (guided): VLM2Vec(guided prefix + image + "Product details:" + text + instruction).

Items without an image follow `features.missing_image_fused`, as in prompt1.
"""

from vlmrec.features.strategies._families import vlm2vec_strategy

SPEC, build = vlm2vec_strategy(
    "prompt2", "VLM2Vec(guided prefix <image> 'Product details:' text + instruction)", image=True, text=True
)
