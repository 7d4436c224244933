"""The embedded demo's synthetic data, written in the real Amazon 2014 raw formats.

Items and users have latent topic vectors; a user's interactions are drawn with probability
rising with user-item affinity (times a mild item popularity), so that who buys what is
predictable from the items' content: an item's title words, category path, image colour and
pattern, and its 4096-d "CNN" feature all derive from its topic. The files are those of the real
2014 release, so the demo goes through the same readers, downloads and k-core:

- `ratings_<Cat>.csv`: no header, user,item,rating,timestamp (a few duplicate rows and a few
  users/items too small for the 5-core included);
- `meta_<Cat>.json.gz`: one Python-literal dict per line (asin, title, categories as a list of
  lists, brand, description, imUrl, price), with HTML entities, one item without title, one
  without categories, one without imUrl, and one malformed line;
- images (`images_<Cat>/`): small JPEGs and PNGs in several modes (P, LA, CMYK, 16-bit) that the
  image step must convert to RGB; a few imUrls point at missing files and one file is corrupt;
- `image_features_<Cat>.b`: 10-byte asin + 4096 float32 per record, a few items missing.

`imUrl` values are absolute `file://` URLs. The same seed gives byte-identical files.
"""

from __future__ import annotations

import colorsys
import gzip
import io
import logging
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from vlmrec.utils.io import atomic_path

log = logging.getLogger(__name__)

FEATURE_DIM = 4096
IMAGE_SIZE = 48
_TOPICS: dict[str, list[tuple[str, list[str]]]] = {
    "Baby": [
        ("Nursery", ["Crib Sheet", "Mobile", "Night Light", "Swaddle Blanket"]),
        ("Feeding", ["Bottle", "Bib", "High Chair", "Sippy Cup"]),
        ("Bathing & Skin Care", ["Bath Tub", "Hooded Towel", "Baby Lotion", "Washcloth"]),
        ("Strollers", ["Jogging Stroller", "Stroller Organizer", "Rain Cover", "Travel System"]),
        ("Diapering", ["Diaper Bag", "Changing Pad", "Wipes Warmer", "Diaper Pail"]),
        ("Toys", ["Rattle", "Teether", "Activity Gym", "Soft Blocks"]),
    ],
    "Sports_and_Outdoors": [
        ("Cycling", ["Bike Helmet", "Bike Light", "Water Bottle Cage", "Cycling Gloves"]),
        ("Camping & Hiking", ["Tent", "Sleeping Bag", "Headlamp", "Trekking Poles"]),
        ("Fishing", ["Spinning Reel", "Tackle Box", "Fishing Line", "Lure Kit"]),
        ("Exercise & Fitness", ["Yoga Mat", "Dumbbell Set", "Resistance Band", "Jump Rope"]),
        ("Team Sports", ["Soccer Ball", "Basketball", "Shin Guards", "Batting Gloves"]),
        ("Water Sports", ["Swim Goggles", "Snorkel Set", "Life Jacket", "Dry Bag"]),
        ("Hunting", ["Game Camera", "Blind", "Scope Cover", "Camo Jacket"]),
    ],
}
_GENERIC_TOPICS = [(f"Topic {t}", [f"Product {t}{s}" for s in "ABCD"]) for t in "ABCDEF"]
_ADJECTIVES = ["Deluxe", "Classic", "Compact", "Premium", "Organic", "Lightweight", "Durable", "Soft"]
_BRANDS = ["Acme", "Brightway", "Northpeak", "Little Oak", "Summit & Co", "BlueRiver", "Kidly", "Trailhead"]
_PATTERNS = ("horizontal", "vertical", "checker", "circle")


@dataclass(frozen=True)
class DemoFiles:
    ratings: Path
    meta: Path
    image_features: Path
    images: Path


def demo_files(out_dir: str | Path, category: str) -> DemoFiles:
    out_dir = Path(out_dir)
    return DemoFiles(
        out_dir / f"ratings_{category}.csv",
        out_dir / f"meta_{category}.json.gz",
        out_dir / f"image_features_{category}.b",
        out_dir / f"images_{category}",
    )


_RANK_BLOCK = 1024  # users ranked per block in _interactions


def _ids(rng: np.random.Generator, n: int, prefix: str, length: int) -> list[str]:
    alphabet = np.array(list(string.ascii_uppercase + string.digits))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        candidate = prefix + "".join(rng.choice(alphabet, size=length - len(prefix)))
        if candidate not in seen:
            seen.add(candidate)
            out.append(candidate)
    return out


def _top_ranked(scores: np.ndarray, k: int) -> np.ndarray:
    """The first k columns of ``np.argsort(scores, axis=1)`` (continuous scores: no ties), in
    O(n) per row instead of a full sort."""
    if k >= scores.shape[1]:
        return np.argsort(scores, axis=1)
    part = np.argpartition(scores, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(scores, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def _interactions(
    rng: np.random.Generator,
    user_vecs: np.ndarray,
    item_vecs: np.ndarray,
    popularity: np.ndarray,
    basket_p: float = 0.3,
) -> list[tuple[int, int, float, int]]:
    """(user, item, rating, timestamp) rows; items per user by Gumbel top-k on affinity.

    Users are ranked in blocks of rows (the same draws as one n_users x n_items matrix, since the
    generator fills arrays in row order), so a Baby-sized catalogue (20k x 7k) stays at ~100 MB.
    """
    n_users, n_items = len(user_vecs), len(item_vecs)
    log_popularity = np.log(popularity)[None, :]
    sizes = 5 + rng.negative_binomial(2, basket_p, size=n_users)
    small = rng.random(n_users) < 0.04  # users below the 5-core, removed by filtering
    sizes = np.where(small, rng.integers(1, 5, size=n_users), sizes)
    sizes = np.minimum(sizes, n_items // 2)
    chosen_items, affinities = [], []
    for lo in range(0, n_users, _RANK_BLOCK):
        hi = min(lo + _RANK_BLOCK, n_users)
        affinity = user_vecs[lo:hi] @ item_vecs.T
        scores = -(4.0 * affinity + log_popularity + rng.gumbel(size=(hi - lo, n_items)))
        ranked = _top_ranked(scores, int(sizes[lo:hi].max()))
        for offset in range(hi - lo):
            chosen = ranked[offset, : sizes[lo + offset]]
            chosen_items.append(chosen)
            affinities.append(affinity[offset, chosen])
    start = rng.integers(1_200_000_000, 1_390_000_000, size=n_users)
    rows: list[tuple[int, int, float, int]] = []
    for u in range(n_users):
        chosen = chosen_items[u]
        gaps = np.cumsum(rng.exponential(86_400 * 20, size=len(chosen))).astype(np.int64)
        stars = np.clip(np.rint(3.2 + 1.5 * affinities[u] + rng.normal(0, 0.7, len(chosen))), 1, 5)
        for item, gap, star in zip(chosen, gaps, stars):
            # 2014 timestamps are days (midnight UTC), as in the real files.
            ts = int((start[u] + gap) // 86_400 * 86_400)
            rows.append((u, int(item), float(star), ts))
    return rows


def _image(rng: np.random.Generator, hue: float, pattern: str) -> Image.Image:
    """A small product picture: topic colour + sub-type pattern + noise."""
    size = IMAGE_SIZE
    base = np.array(colorsys.hsv_to_rgb(hue, 0.75, 0.9)) * 255
    other = np.array(colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.3, 0.98)) * 255
    yy, xx = np.mgrid[0:size, 0:size]
    if pattern == "horizontal":
        mask = (yy // 6) % 2 == 0
    elif pattern == "vertical":
        mask = (xx // 6) % 2 == 0
    elif pattern == "checker":
        mask = ((xx // 8) + (yy // 8)) % 2 == 0
    else:
        mask = (xx - size / 2) ** 2 + (yy - size / 2) ** 2 < (size / 3) ** 2
    pixels = np.where(mask[..., None], base, other) + rng.normal(0, 8, (size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _encode(image: Image.Image, index: int) -> tuple[bytes, str]:
    """Encode in a mix of formats and modes the image step must normalise to RGB."""
    buffer = io.BytesIO()
    kind = index % 11
    if kind == 3:
        image.convert("P", palette=Image.Palette.ADAPTIVE).save(buffer, format="PNG")
        return buffer.getvalue(), "png"
    if kind == 5:
        image.convert("LA").save(buffer, format="PNG")
        return buffer.getvalue(), "png"
    if kind == 7:
        image.convert("CMYK").save(buffer, format="JPEG", quality=90)
        return buffer.getvalue(), "jpg"
    if kind == 9:
        grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
        Image.fromarray(grey.astype("<u2")).save(buffer, format="PNG")
        return buffer.getvalue(), "png"
    if kind == 1:
        image.save(buffer, format="PNG")
        return buffer.getvalue(), "png"
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), "jpg"


def _meta_line(record: dict[str, object]) -> str:
    # repr() of a dict is exactly the Python-literal format of the 2014 meta files.
    return repr(record) + "\n"


def generate_demo(
    out_dir: str | Path,
    category: str,
    n_users: int,
    n_items: int,
    seed: int,
    image_url_base: str | None = None,
    basket_p: float = 0.3,
) -> DemoFiles:
    """Write the four demo artefacts for one dataset into `out_dir`; deterministic for `seed`.

    `image_url_base` makes the `imUrl`s `<base>/<file name>` (a web server over the images folder,
    as benchmarks/rehearsal serves it) instead of `file://` URLs; `basket_p` sets the negative
    binomial of items per user (5 + NB(2, p): mean 9.7 at the default 0.3, 8.6 at 0.36 ~ Baby).
    """
    rng = np.random.default_rng(seed)
    files = demo_files(out_dir, category)
    files.images.mkdir(parents=True, exist_ok=True)
    topics = _TOPICS.get(category, _GENERIC_TOPICS)
    n_topics = len(topics)

    item_topic = rng.integers(0, n_topics, size=n_items)
    item_sub = rng.integers(0, 4, size=n_items)
    item_vecs = np.eye(n_topics)[item_topic] + 0.25 * rng.normal(size=(n_items, n_topics))
    user_vecs = rng.dirichlet(np.full(n_topics, 0.3), size=n_users)
    popularity = rng.lognormal(0.0, 0.6, size=n_items)
    popularity[rng.choice(n_items, size=max(1, n_items // 50), replace=False)] = 1e-4  # too rare for 5-core

    asins = _ids(rng, n_items, "B00", 10)
    users = _ids(rng, n_users, "A", 14)
    rows = _interactions(rng, user_vecs, item_vecs, popularity, basket_p)
    duplicates = [rows[i] for i in rng.choice(len(rows), size=5, replace=False)]
    with atomic_path(files.ratings) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for u, i, rating, ts in rows + duplicates:
            handle.write(f"{users[u]},{asins[i]},{rating:.1f},{ts}\n")

    dead = set(rng.choice(n_items, size=3, replace=False).tolist())
    rest = [i for i in range(n_items) if i not in dead]
    corrupt, no_url, no_title, no_categories = (int(x) for x in rng.choice(rest, size=4, replace=False))
    lines: list[str] = []
    for i, asin in enumerate(asins):
        topic_name, subtypes = topics[item_topic[i]]
        subtype = subtypes[item_sub[i]]
        adjective = _ADJECTIVES[rng.integers(len(_ADJECTIVES))]
        brand = _BRANDS[rng.integers(len(_BRANDS))]
        image = _image(rng, item_topic[i] / n_topics + 0.03 * item_sub[i], _PATTERNS[item_sub[i]])
        data, ext = _encode(image, i)
        path = files.images / f"{asin}.{ext}"
        if i == corrupt:
            data = data[: len(data) // 3] + b"\x00garbage"  # a truncated, undecodable file
        if i not in dead:
            path.write_bytes(data)
        title = f"{brand} {adjective} {subtype}"
        if i % 17 == 0:
            title = title.replace(" & ", " &amp; ") + " &quot;Gift Edition&quot;"
        record: dict[str, object] = {
            "asin": asin,
            "title": title,
            "price": round(float(rng.uniform(5, 120)), 2),
            "imUrl": f"{image_url_base}/{path.name}" if image_url_base else path.resolve().as_uri(),
            "categories": [[category.replace("_and_", " & ").replace("_", " "), topic_name, subtype]],
            "brand": brand,
            "description": (
                f"A {adjective.lower()} {subtype.lower()} for {topic_name.lower()} "
                f"&lt;b&gt;by {brand}&lt;/b&gt;."
            ),
            "salesRank": {category: int(rng.integers(1, 500_000))},
        }
        if i == no_title:
            del record["title"]
        if i == no_categories:
            record["categories"] = []
        if i == no_url:
            del record["imUrl"]
        lines.append(_meta_line(record))
        if i == n_items // 2:
            # A record cut off before its asin, as a damaged download would leave it.
            lines.append("{'title': 'A line cut in the mid\n")
    # mtime=0: a gzip header without a timestamp, so the same seed gives the same bytes.
    with (
        atomic_path(files.meta) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out,
    ):
        out.write("".join(lines).encode("utf-8"))

    projection = rng.normal(size=(n_topics, FEATURE_DIM)).astype(np.float32)
    missing_feature = set(rng.choice(n_items, size=max(1, n_items // 60), replace=False).tolist())
    with atomic_path(files.image_features) as tmp, open(tmp, "wb") as handle:
        for i, asin in enumerate(asins):
            if i in missing_feature:
                continue
            vector = np.maximum(item_vecs[i] @ projection + rng.normal(0, 0.5, FEATURE_DIM), 0)
            handle.write(asin.encode("ascii"))
            handle.write(vector.astype("<f4").tobytes())
    log.info(
        "demo %s: %d users, %d items, %d rating rows -> %s",
        category,
        n_users,
        n_items,
        len(rows),
        files.ratings,
    )
    return files
