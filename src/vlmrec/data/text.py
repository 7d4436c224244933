"""Item text from metadata: the config's template filled with cleaned fields.

The paper's Textual input is `"{title}, category: {category}"`; MMRec's own text is
title + brand + " ".join(categories[0]) + description, available as `{category_path}`,
`{brand}` and `{description}`. A missing title or category becomes "" and the filled text is
tidied (no dangling separators, single spaces), so an item without title reads
"category: Strollers" rather than ", category: Strollers", and one without category reads
"Title" rather than "Title, category:".
"""

from __future__ import annotations

import re
import string
from typing import Any

import pandas as pd

TEMPLATE_FIELDS = ("title", "category", "category_path", "brand", "description", "asin")
_SPACE = re.compile(r"\s+")
_EMPTY_SEPARATORS = re.compile(r"(^[\s,;:|-]+)|([\s,;|-]+$)")
# A label left without its value at the end, e.g. the ", category:" of "Title, category:".
_DANGLING_LABEL = re.compile(r"[\s,;|-]*\b[\w ]{1,30}:$")


def check_template(template: str) -> None:
    """Fail early naming `preprocess.text_template` when it uses an unknown field."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(f"preprocess.text_template {template!r}: {exc}") from exc
    unknown = sorted({f for f in fields if f not in TEMPLATE_FIELDS})
    if unknown:
        raise ValueError(
            f"preprocess.text_template uses unknown field(s) {unknown}; known: {', '.join(TEMPLATE_FIELDS)}"
        )


def pick_category(categories: Any, level: str) -> str:
    """The category naming an item: the last (most specific) or first entry of categories[0]."""
    if categories is None or len(categories) == 0:
        return ""
    path = [c for c in list(categories[0]) if c]
    if not path:
        return ""
    return str(path[-1] if level == "last" else path[0])


def category_path(categories: Any) -> str:
    if categories is None or len(categories) == 0:
        return ""
    return " ".join(str(c) for c in list(categories[0]) if c)


def fill_template(template: str, fields: dict[str, str]) -> str:
    text = template.format(**fields)
    text = _SPACE.sub(" ", text).strip()
    text = _DANGLING_LABEL.sub("", text)
    return _EMPTY_SEPARATORS.sub("", text)


def item_text_columns(meta: pd.DataFrame, template: str, category_level: str) -> pd.DataFrame:
    """From normalised meta rows (asin, title, brand, description, categories) build the text
    columns of items.parquet: title, category, category_path, brand, description, text."""
    check_template(template)
    if category_level not in ("first", "last"):
        raise ValueError(f"preprocess.category_level must be 'first' or 'last', got {category_level!r}")
    out = pd.DataFrame({"asin": meta["asin"].astype(str)})
    out["title"] = meta["title"].fillna("").astype(str)
    out["category"] = [pick_category(c, category_level) for c in meta["categories"]]
    out["category_path"] = [category_path(c) for c in meta["categories"]]
    out["brand"] = meta["brand"].fillna("").astype(str)
    out["description"] = meta["description"].fillna("").astype(str)
    out["text"] = [
        fill_template(template, row) for row in out[list(TEMPLATE_FIELDS)].to_dict(orient="records")
    ]
    return out
