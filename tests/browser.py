"""A real browser on the served dashboard: Debian's Chromium driven by Playwright.

``playwright install`` downloads its own browsers, which cannot be done here; the system's
``chromium`` (``make test`` installs it) is launched instead.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from ml.common.settings import REPO_ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The dashboard's pages, as st.navigation names them in the URL.
PAGES = {
    "overview": "",
    "customer": "customer",
    "model": "model",
    "monitoring": "monitoring",
    "data_quality": "data_quality",
}
CHART = '[data-testid="stVegaLiteChart"], [data-testid="stArrowVegaLiteChart"]'
MARK_PIXELS = 100
LEGEND_WIDTH = 180


@contextmanager
def held_warehouse(warehouse: Path):
    """Another process holding the DuckDB file open for writing, as a pipeline run does: no
    other process can open it, not even read-only, until it exits."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(300)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if holder.stdout.readline().strip() != "locked":
            raise RuntimeError("the holder could not open the warehouse")
        yield
    finally:
        holder.kill()
        holder.wait()


def _colored_pixels(png: bytes) -> int:
    """Pixels of a chart's screenshot that are clearly coloured (not grey, white or black)."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)
    # Vega puts legends at the right: leave that strip out, so a chart whose marks did not
    # draw (a legend alone is coloured too) counts nothing.
    rgb = rgb[:, : max(rgb.shape[1] - LEGEND_WIDTH, 1)]
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 60).sum())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_dashboard(home: Path):
    """`fti dashboard` on a free port for ``home``; yields its URL."""
    port = free_port()
    env = {**os.environ, "FTI_HOME": str(home)}
    fti = str(Path(sys.executable).parent / "fti")
    server = subprocess.Popen(
        [fti, "dashboard", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the dashboard did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def visit_pages(url: str, screenshots: Path | None = None) -> dict[str, dict[str, object]]:
    """Open every page in Chromium; per page, the charts and how many have their marks drawn
    with content), images, and the text of any exception box Streamlit shows."""
    from playwright.sync_api import sync_playwright

    seen: dict[str, dict[str, object]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name, path in PAGES.items():
            page.goto(f"{url}/{path}", wait_until="networkidle")
            page.wait_for_selector('[data-testid="stMain"] h1', timeout=60_000)
            # Streamlit runs the script, then the charts draw themselves: wait until the
            # status widget says nothing runs and every chart has its canvas or SVG.
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                timeout=60_000,
            )
            page.wait_for_timeout(1500)
            charts = page.locator(CHART)
            colored = [_colored_pixels(charts.nth(i).screenshot()) for i in range(charts.count())]
            seen[name] = {
                "title": page.locator('[data-testid="stMain"] h1').first.inner_text(),
                "charts": charts.count(),
                # A chart counts as drawn when its marks are: axes, labels and gridlines are
                # grey, marks are coloured.
                "drawn": sum(n >= MARK_PIXELS for n in colored),
                "colored_pixels": colored,
                "images": page.locator('[data-testid="stImage"] img').count(),
                "exceptions": page.locator('[data-testid="stException"]').all_inner_texts(),
                "errors": list(errors),
            }
            if screenshots is not None:
                # The page scrolls inside Streamlit's main block, not the window: grow the
                # window to the block's height so one screenshot holds the whole page.
                height = page.evaluate(
                    "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
                )
                page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 6000)})
                page.wait_for_timeout(1000)
                screenshots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshots / f"{name}.png"))
                page.set_viewport_size({"width": 1400, "height": 1000})
        browser.close()
    return seen
