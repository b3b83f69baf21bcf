"""Write ``index.html``: one self-contained page for one or several bench folders.

Each folder's report (``markdown.report_lines``: the lecture's parts in this run, the table, the plots, versions and
samples in the lecture's order) is rendered by ``markdown-it-py`` with raw HTML disabled, so every string that came
from a dataset or a model (a generated text holding ``<script>``, a class name) is shown as text, never run. Then the
page is made self-contained: every image and every WAV file the report links is inlined as a ``data:`` URI (a WAV
link becomes an ``<audio>`` player), a version strip gets its animated GIF beside it where one was written, and the
tables sort by a click on a header (a few lines of inline script; nothing is fetched from the network).
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from urllib.parse import unquote

from genstrat.training.checkpoint import read_json
from genstrat.errors import GenstratError
from genstrat.reporting.markdown import report_lines

MIME = {".png": "image/png", ".gif": "image/gif", ".wav": "audio/wav"}

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1180px; margin: 2em auto; padding: 0 1em; color: #1b1b1b; }
nav a { margin-right: 1em; }
section.bench { border-top: 3px solid #345; margin-top: 2.5em; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; white-space: nowrap; }
th { background: #eef2f6; cursor: pointer; position: sticky; top: 0; }
th[data-order]::after { content: attr(data-order); }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; image-rendering: pixelated; }
audio { height: 28px; vertical-align: middle; margin: 2px; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; }
code { background: #f2f2f2; padding: 0 .2em; }
"""

SORT_SCRIPT = """
document.querySelectorAll("table").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.from(body.rows), up = th.dataset.order !== " \\u25b2";
      var value = function (row) {
        var text = row.cells[column].textContent.trim(), number = parseFloat(text);
        return isNaN(number) ? text : number;
      };
      rows.sort(function (a, b) {
        var x = value(a), y = value(b);
        if (typeof x !== typeof y) return typeof x === "number" ? -1 : 1;
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
      });
      table.querySelectorAll("th").forEach(function (other) { delete other.dataset.order; });
      th.dataset.order = up ? " \\u25b2" : " \\u25bc";
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def markdown_to_html(text: str) -> str:
    """CommonMark with tables; raw HTML in the text is escaped, not passed through."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def data_uri(path: Path) -> str | None:
    mime = MIME.get(path.suffix.lower())
    if mime is None or not path.is_file():
        return None
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def inline_files(fragment: str, folder: Path) -> str:
    """Images -> data URIs (a version strip also gets its GIF); links to WAV files -> inline audio players."""

    def image(match: re.Match) -> str:
        src, alt = unquote(html.unescape(match.group(1))), match.group(2)
        uri = data_uri(folder / src)
        if uri is None:
            return f'<span class="missing">[{alt}: {html.escape(src)} not found]</span>'
        tag = f'<img src="{uri}" alt="{alt}">'
        gif = folder / Path(src).with_suffix(".gif")
        if src.endswith("-versions.png") and gif.is_file():
            tag += f' <img src="{data_uri(gif)}" alt="{alt} (animated)">'
        return tag

    def audio(match: re.Match) -> str:
        src, label = unquote(html.unescape(match.group(1))), match.group(2)
        uri = data_uri(folder / src)
        if uri is None:
            return f'<span class="missing">[{label}: {html.escape(src)} not found]</span>'
        return f'<audio controls preload="metadata" src="{uri}" title="clip {label}"></audio>'

    fragment = re.sub(r'<img src="([^"]+)" alt="([^"]*)"\s*/?>', image, fragment)
    return re.sub(r'<a href="([^"]+\.wav)">([^<]*)</a>', audio, fragment)


def bench_section(folder: Path, index: int) -> tuple[str, str]:
    """(title, HTML) of one bench folder."""
    try:
        rows = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise GenstratError(f"cannot read {folder / 'results.json'} ({e.__class__.__name__}); run `genstrat bench "
                            f"--out {folder}` first") from None
    meta = read_json(folder / "meta.json", "bench metadata")
    body = inline_files(markdown_to_html("\n".join(report_lines(rows, meta, folder))), folder)
    title = f"{meta['data']} ({meta.get('modality', 'image')})"
    return title, f'<section class="bench" id="bench-{index}">{body}</section>'


def write_html(folders: list[Path], out: Path, preface: list[str] | None = None) -> Path:
    """One page holding every folder's report, after ``preface`` (Markdown lines, e.g. the demo's claims); returns
    its path."""
    sections = [bench_section(Path(f), i) for i, f in enumerate(folders)]
    intro = markdown_to_html("\n".join(preface)) if preface else ""
    nav = " ".join(f'<a href="#bench-{i}">{html.escape(title)}</a>' for i, (title, _) in enumerate(sections))
    page = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>genstrat: generation strategies side by side</title>",
            f"<style>{STYLE}</style></head><body>",
            "<h1>genstrat: generation strategies side by side</h1>",
            "<p>Autoregressive, one-shot NAR and its fixes (a latent vector, two stages, iterative NAR), trained on "
            "one backbone and judged by one judge per dataset. Click a table header to sort.</p>",
            f"<nav>{nav}</nav>", intro, *(s for _, s in sections), f"<script>{SORT_SCRIPT}</script>", "</body></html>"]
    out = Path(out)
    out.write_text("\n".join(page), encoding="utf-8")
    return out
