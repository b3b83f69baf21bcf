"""The README's screenshot: the first screen of a report page (``genstrat demo``'s ``index.html``), as a reader's
browser shows it (Chromium, headless, 1280 x 1100).

    python docs/experiments/screenshot_page.py runs/demo/index.html docs/img/report.png
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1100)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(args.page.resolve().as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(args.out), full_page=False)
        browser.close()
    print(f"{args.out}: the first {args.height} pixels of {args.page}")


if __name__ == "__main__":
    main()
