"""dual: image = the `visual` vectors, text = the `textual` vectors; no encoding.

The recommender learns the fusion (MMRec's v_feat / t_feat), one reading of the paper's "Dual".
"""

from vlmrec.features.strategies._families import reuse_strategy

SPEC, build = reuse_strategy(
    "dual",
    ("image", "text"),
    "image: visual, text: textual (two modalities, no new encoding)",
    lambda image, text: {"image": image, "text": text},
)
