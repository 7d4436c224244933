"""Images: decode checks, RGB conversion, bomb refusal, manifest outcomes, skip on re-run."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data_httpserver import scripted_server
from PIL import Image

from vlmrec.data.download import DownloadOptions
from vlmrec.data.images import (
    ImageOptions,
    check_missing,
    decode_image,
    download_images,
    fetch_images,
    image_file_name,
)

FAST = DownloadOptions(retries=2, backoff_seconds=0.01, timeout_seconds=5, chunk_bytes=4096)


def encoded(mode: str, fmt: str, size: tuple[int, int] = (20, 16)) -> bytes:
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    if mode == "I;16":
        image = Image.fromarray((np.asarray(rgb.convert("L"), dtype=np.uint16) * 257).astype("<u2"))
    elif mode == "P":
        image = rgb.convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        image = rgb.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("RGB", "JPEG"), ("CMYK", "JPEG"), ("P", "PNG"), ("LA", "PNG"), ("I;16", "PNG"), ("L", "PNG")],
)
def test_decode_converts_every_mode_to_rgb(mode: str, fmt: str) -> None:
    data = encoded(mode, fmt)
    assert Image.open(io.BytesIO(data)).mode == mode
    image = decode_image(data, max_pixels=10_000)
    assert image.mode == "RGB" and image.size == (20, 16)


def test_decode_refuses_bombs_and_garbage() -> None:
    with pytest.raises(ValueError, match="^too_large"):
        decode_image(encoded("RGB", "PNG", size=(100, 100)), max_pixels=5_000)
    with pytest.raises(ValueError, match="^corrupt"):
        decode_image(b"\x89PNG\r\n\x1a\nnot really", max_pixels=10_000)
    truncated = encoded("RGB", "JPEG", size=(64, 64))
    with pytest.raises(ValueError, match="^corrupt"):
        decode_image(truncated[: len(truncated) // 2], max_pixels=100_000)


def test_sanitised_file_names_are_unique() -> None:
    assert image_file_name("B00ABC1234") == "B00ABC1234.jpg"
    weird = [image_file_name(a) for a in ("../etc/passwd", "a/b", "a_b", "a b")]
    assert all("/" not in n and not n.startswith(".") for n in weird)
    assert len(set(weird)) == len(weird)


def test_fetch_images_records_every_outcome_and_skips_on_rerun(tmp_path: Path) -> None:
    with scripted_server() as server:
        items = [
            ("OK1", server.add("/ok1.jpg", ("ok", encoded("RGB", "JPEG")))),
            ("CMYK", server.add("/cmyk.jpg", ("ok", encoded("CMYK", "JPEG")))),
            (
                "FLAKY",
                server.add("/flaky.png", ("status", 503), ("status", 429), ("ok", encoded("P", "PNG"))),
            ),
            ("DEAD", server.add("/dead.jpg", ("status", 404))),
            ("BAD", server.add("/bad.jpg", ("ok", b"this is no image"))),
            ("HUGE", server.add("/huge.png", ("ok", encoded("RGB", "PNG", size=(200, 200))))),
            ("NOURL", None),
        ]
        options = ImageOptions(workers=4, per_host_concurrency=2, max_pixels=10_000)
        manifest = fetch_images(items, tmp_path, options, FAST)
        status = dict(zip(manifest["asin"], manifest["status"]))
        assert status == {
            "OK1": "ok",
            "CMYK": "ok",
            "FLAKY": "ok",
            "DEAD": "http_error",
            "BAD": "corrupt",
            "HUGE": "too_large",
            "NOURL": "missing_url",
        }
        assert manifest.columns.tolist()[:5] == ["asin", "url", "status", "bytes", "error"]
        assert manifest.set_index("asin").loc["DEAD", "error"] == "HTTP 404"
        for asin in ("OK1", "CMYK", "FLAKY"):
            with Image.open(tmp_path / image_file_name(asin)) as image:
                assert image.mode == "RGB"
        before = len(server.requests)
        again = fetch_images(items, tmp_path, options, FAST)
        fetched_again = {p for p, _ in server.requests[before:]}
    assert fetched_again == {"/dead.jpg", "/bad.jpg", "/huge.png"}  # the good ones were skipped
    assert again["status"].tolist() == manifest["status"].tolist()


def test_too_many_missing_fails_clearly_but_keeps_images(tmp_path: Path) -> None:
    meta = pd.DataFrame({"asin": ["A", "B", "C"], "image_url": [None, None, None]})
    good = tmp_path / "good.png"
    Image.new("RGB", (4, 4)).save(good)
    meta.loc[0, "image_url"] = good.resolve().as_uri()
    meta.to_parquet(tmp_path / "items_meta.parquet")
    manifest_path = tmp_path / "images" / "manifest.parquet"
    with pytest.raises(RuntimeError, match=r"66.7% of 3 images are missing.*max_missing_fraction=0.5"):
        download_images(tmp_path / "items_meta.parquet", manifest_path, ImageOptions(workers=2), FAST, 0.5)
    assert (tmp_path / "images" / "A.jpg").exists()
    assert (tmp_path / "images" / "manifest.failed.csv").exists()
    manifest = download_images(
        tmp_path / "items_meta.parquet", manifest_path, ImageOptions(workers=2), FAST, 0.7
    )
    assert manifest_path.exists() and (manifest["status"] == "ok").sum() == 1
    check_missing(manifest, 0.7, "x")
