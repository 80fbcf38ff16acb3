"""Open a local HTML file in headless Chromium (Debian's /usr/bin/chromium,
driven by playwright; no browser is downloaded) and report what a reader's
browser would meet: console and page errors, every request, each image's
load state and place on the page, the page's text, a full-page screenshot.

Chromium on a closed network waits on its background services unless they
are switched off, and runs as root only without its sandbox; each run gets
a fresh profile so nothing carries over."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1200, "height": 900}
TIMEOUT_MS = 30_000

_IMAGES_JS = """() => Array.from(document.images).map(img => {
  const r = img.getBoundingClientRect();
  return {alt: img.alt, complete: img.complete, naturalWidth: img.naturalWidth,
          naturalHeight: img.naturalHeight, x: r.left + window.scrollX, y: r.top + window.scrollY,
          width: r.width, height: r.height, scheme: img.currentSrc.split(':')[0]};
})"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)


def unavailable() -> str | None:
    """Why a page cannot be opened here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "Chromium is not installed (Debian: apt-get install chromium; make test tries this)"
    return None


@dataclass
class PageVisit:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    title: str = ""
    results: dict[str, Any] = field(default_factory=dict)  # of the caller's queries


def visit(html: Path, screenshot: Path | None = None, clip_height: int | None = None,
          queries: dict[str, str] | None = None) -> PageVisit:
    """Load html from file:// and wait for it to settle; every request that
    is not for a file: or data: URL is refused (and recorded). queries: name
    -> a JavaScript expression evaluated in the page. The screenshot is of
    the full page, or of its top clip_height pixels."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    assert exe is not None, unavailable()
    v = PageVisit()
    with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="stimbox-chromium-") as profile:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=exe, headless=True, args=FLAGS, viewport=VIEWPORT,
            timeout=TIMEOUT_MS, offline=True)
        try:
            page = ctx.new_page()
            page.on("console", lambda m: v.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: v.page_errors.append(str(e)))
            page.on("request", lambda r: v.requests.append(r.url))
            ctx.route("**/*", lambda route: route.continue_()
                      if route.request.url.startswith(("file:", "data:")) else route.abort())
            page.goto(html.resolve().as_uri(), wait_until="load", timeout=TIMEOUT_MS)
            page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
            v.images = page.evaluate(_IMAGES_JS)
            v.text = page.inner_text("body")
            v.title = page.title()
            v.results = {k: page.evaluate(js) for k, js in (queries or {}).items()}
            if screenshot is not None:
                if clip_height is not None:
                    page.screenshot(path=str(screenshot), full_page=True,
                                    clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": clip_height})
                else:
                    page.screenshot(path=str(screenshot), full_page=True)
        finally:
            ctx.close()
    return v
