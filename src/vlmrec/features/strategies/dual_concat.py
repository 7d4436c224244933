"""dual_concat: one `fused` matrix = concat(visual, textual) (3072-d for VLM2Vec-V2.0); no encoding.

The other reading of the paper's "Dual: concat(Visual, Textual), 3072-d".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vlmrec.features.strategies._families import reuse_strategy

if TYPE_CHECKING:
    import numpy as np


def _concat(image: np.ndarray, text: np.ndarray) -> dict[str, np.ndarray]:
    import numpy as np

    return {"fused": np.concatenate([image, text], axis=1)}


SPEC, build = reuse_strategy(
    "dual_concat", ("fused",), "fused: concat(visual, textual), a single modality", _concat
)
