"""The page people open: `genstrat report` over an image, a text and an audio bench writes one self-contained
index.html, checked in a real headless Chromium (Debian's package; `.ci/run` installs it)."""

import json
import shutil
from pathlib import Path

import pytest

from genstrat.cli import main

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
HOSTILE = "<script>window.__pwned = 1</script>"


def tiny_bench(out: Path, *args: str) -> Path:
    assert main(["bench", *args, "--steps", "1", "--train-steps", "2", "--size", "tiny", "--batch-size", "8",
                 "--throughput-batch", "5", "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def benches(tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    image = tiny_bench(root / "digits", "--data", "digits", "--strategies", "ar,nar", "--n", "20",
                       "--judge-steps", "20")
    text = tiny_bench(root / "probe", "--data", "probe", "--strategies", "ar,nar", "--n", "50")
    audio = tiny_bench(root / "spoken", "--data", "spoken", "--seconds", "0.25", "--sample-rate", "4000",
                       "--strategies", "nar,mask-predict", "--n", "10", "--judge-steps", "20")
    # a model output that is an attack on the page: the samples list of the text bench's AR row gets a first line
    ar_row = next(r for r in json.loads((text / "results.json").read_text()) if r["strategy"] == "ar")
    samples = text / ar_row["grid"]
    samples.write_text(f"Lee is → {HOSTILE}\n" + samples.read_text(encoding="utf-8"), encoding="utf-8")
    return image, text, audio


def test_report_writes_one_self_contained_page(benches, tmp_path):
    page = tmp_path / "index.html"
    assert main(["report", *map(str, benches), "--out", str(page)]) == 0
    source = page.read_text(encoding="utf-8")
    assert "http://" not in source.replace("http://www.w3.org", "") and "https://" not in source
    assert HOSTILE not in source and "&lt;script&gt;window.__pwned" in source
    assert main(["report", str(benches[0])]) == 0 and (benches[0] / "index.html").is_file()


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="no Chromium here (.ci/run installs Debian's package)")
def test_page_in_a_real_browser(benches, tmp_path):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    page_path = tmp_path / "index.html"
    assert main(["report", *map(str, benches), "--out", str(page_path)]) == 0
    expected_rows = [len(json.loads((b / "results.json").read_text())) for b in benches]
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        # each bench's "All rows" table holds every row of its results.json
        assert page.eval_on_selector_all("section.bench", """s => s.map(x => {
            const heading = [...x.querySelectorAll('h1, h2, h3')].find(h => h.textContent.trim() === 'All rows');
            let e = heading.nextElementSibling;
            while (e.tagName !== 'TABLE') e = e.nextElementSibling;
            return e.querySelectorAll('tbody tr').length; })""") == expected_rows
        # and the best-row summary comes before it, one row per reference and per strategy line at most
        summary = page.eval_on_selector_all("section.bench", """s => s.map(x => [...x.querySelectorAll('h1, h2, h3')]
            .some(h => h.textContent.trim() === 'Best row of each strategy'))""")
        assert summary == [True] * len(benches)
        # every image decoded
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        assert widths and min(widths) > 0
        # every audio element can play: its duration is the clip's 0.25 s
        durations = page.evaluate("""() => Promise.all([...document.querySelectorAll('audio')].map(a =>
            a.readyState >= 1 ? a.duration : new Promise(done => {
              a.addEventListener('loadedmetadata', () => done(a.duration));
              a.addEventListener('error', () => done(-1));
              a.load(); })))""")
        assert durations and all(abs(d - 0.25) < 0.01 for d in durations)
        # a model output holding a script shows as text and does not run
        assert page.evaluate("() => window.__pwned === undefined")
        assert HOSTILE in page.inner_text("body")
        # sorting: a click on a table's first header orders its rows by strategy name
        first = page.locator("section.bench").first.locator("table").first
        first.locator("th").first.click()
        names = first.locator("tbody tr td:first-child").all_inner_texts()
        assert names == sorted(names)
        shot = tmp_path / "page.png"
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert all(u.startswith(("file://", "data:")) for u in requests), [u for u in requests if not u.startswith("d")]
    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, table lines, a plot: not a blank page
