"""Opening a Snakemake report as a browser would: headless Chromium, else a static HTML parse."""

from __future__ import annotations

import base64
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path


def embedded_files(html: str) -> dict[str, bytes]:
    """The report's embedded results: data URIs `data:<mime>;charset=..;filename=<name>;base64,...`."""
    pattern = r"data:[a-z/+.-]+;charset=[^;,]*;filename=([^;,]+);base64,([A-Za-z0-9+/=]+)"
    files: dict[str, bytes] = {}
    for name, payload in re.findall(pattern, html):
        files.setdefault(name, base64.b64decode(payload))
    return files


def visible_text(html: str) -> str:
    """Text of a page without scripts/styles and tags, whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def rendered_report(report: Path, browser: str, show: str = "results/table.html") -> str:
    """The report's DOM after its JS app ran and the entry `show` was opened (as a click would)."""
    html = report.read_text(encoding="utf-8")
    click = f"<script>addEventListener('load',()=>setTimeout(()=>app.showResultInfo('{show}'),300))</script>"
    page = report.with_name(report.stem + "_click.html")
    page.write_text(html[: html.rfind("</body>")] + click + "</body></html>", encoding="utf-8")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000"]
    done = subprocess.run([*cmd, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return visible_text(done.stdout)


class TableParser(HTMLParser):
    """Rows of every <table> (cell texts), the fallback check that a page holds real HTML tables."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_tables(html: str) -> list[list[list[str]]]:
    parser = TableParser()
    parser.feed(html)
    return parser.tables
