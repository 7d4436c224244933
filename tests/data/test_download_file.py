"""Downloads against a scripted HTTP server on 127.0.0.1: resume, retries, errors, file: URLs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from data_httpserver import scripted_server

from vlmrec.data.download import DownloadOptions, HTTPStatusError, download_file, file_url_path

FAST = DownloadOptions(retries=3, backoff_seconds=0.01, timeout_seconds=5, chunk_bytes=1024)
BODY = os.urandom(50_000)


def test_resume_after_cut_connection(tmp_path: Path) -> None:
    with scripted_server() as server:
        url = server.add("/ratings.csv", ("cut", BODY, 20_000), ("ok", BODY))
        record = download_file(url, tmp_path / "ratings.csv", FAST)
    dest = tmp_path / "ratings.csv"
    assert dest.read_bytes() == BODY
    ranges = [r for p, r in server.requests if p == "/ratings.csv"]
    assert ranges[0] is None and len(ranges) == 2
    # The second request resumes from what was kept (a partial last chunk may be re-fetched).
    offset = int(ranges[1].removeprefix("bytes=").rstrip("-"))
    assert 10_000 <= offset <= 20_000
    assert record["sha256"] == hashlib.sha256(BODY).hexdigest() and record["bytes"] == len(BODY)
    saved = json.loads((tmp_path / "ratings.csv.sha256.json").read_text())
    assert saved["sha256"] == record["sha256"] and saved["url"] == url
    assert not (tmp_path / "ratings.csv.part").exists()


def test_resume_across_runs_from_leftover_part(tmp_path: Path) -> None:
    with scripted_server() as server:
        url = server.add("/meta.gz", ("ok", BODY))
        (tmp_path / "meta.gz.part").write_bytes(BODY[:30_000])
        (tmp_path / "meta.gz.part.url").write_text(url + "\n")
        download_file(url, tmp_path / "meta.gz", FAST)
        assert (tmp_path / "meta.gz").read_bytes() == BODY
        assert server.requests == [("/meta.gz", "bytes=30000-")]
        assert not (tmp_path / "meta.gz.part.url").exists()

        # A leftover of another URL is not resumed: it would splice two files together.
        other = server.add("/other.gz", ("ok", BODY))
        (tmp_path / "x.gz.part").write_bytes(b"stale bytes")
        (tmp_path / "x.gz.part.url").write_text(url + "\n")
        download_file(other, tmp_path / "x.gz", FAST)
        assert (tmp_path / "x.gz").read_bytes() == BODY
        assert server.requests[-1] == ("/other.gz", None)


@pytest.mark.parametrize("status", [503, 429, 500])
def test_retry_after_transient_status(tmp_path: Path, status: int) -> None:
    with scripted_server() as server:
        url = server.add("/f", ("status", status), ("status", status), ("ok", BODY))
        download_file(url, tmp_path / "f", FAST)
    assert (tmp_path / "f").read_bytes() == BODY
    assert server.count("/f") == 3


def test_404_fails_at_once_and_leaves_nothing(tmp_path: Path) -> None:
    with scripted_server() as server:
        url = server.add("/gone", ("status", 404))
        with pytest.raises(HTTPStatusError, match="404") as info:
            download_file(url, tmp_path / "gone", FAST)
    assert info.value.status == 404
    assert server.count("/gone") == 1
    assert not (tmp_path / "gone").exists()


def test_gives_up_after_retries_naming_the_url(tmp_path: Path) -> None:
    with scripted_server() as server:
        url = server.add("/busy", ("status", 503))
        with pytest.raises(HTTPStatusError, match="/busy: HTTP 503"):
            download_file(url, tmp_path / "busy", FAST)
    assert server.count("/busy") == FAST.retries + 1
    assert not (tmp_path / "busy").exists()


def test_file_urls_relative_and_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "src" / "data.bin"
    source.parent.mkdir()
    source.write_bytes(BODY)
    monkeypatch.chdir(tmp_path)
    assert file_url_path("file:src/data.bin") == Path("src/data.bin")
    download_file("file:src/data.bin", "out/rel.bin", FAST)
    download_file(source.resolve().as_uri(), "out/abs.bin", FAST)
    assert Path("out/rel.bin").read_bytes() == BODY == Path("out/abs.bin").read_bytes()
    assert Path("out/rel.bin.sha256.json").exists()
    with pytest.raises(FileNotFoundError, match="nothere"):
        download_file("file:nothere.csv", "out/x", FAST)
    with pytest.raises(ValueError, match="scheme"):
        download_file("ftp://example.org/x", "out/y", FAST)
