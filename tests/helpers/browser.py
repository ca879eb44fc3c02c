"""Debian's Chromium driven by Playwright for the web UI's tests: launched headless with a
fresh profile and no background networking (the closed network makes it hang otherwise),
skipped with the reason when Chromium or Playwright is missing (``make test`` installs
Chromium with apt-get)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
# Screenshots of every page go to a scratch folder; `SLM_UI_SCREENSHOTS=docs/ui pytest
# tests/browser` refreshes the ones the docs show (a plain test run leaves the tree clean).
SCREENSHOTS = Path(os.environ.get("SLM_UI_SCREENSHOTS")
                   or Path(tempfile.gettempdir()) / "slmkit-ui-screenshots")


def chromium_or_skip() -> str:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed (/usr/bin/chromium): `make test` installs it "
                    "with apt-get install -y chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is missing: pip install -e '.[test]'")
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@contextmanager
def chromium(profile: Path, *, timeout_ms: int = 15_000) -> Iterator:
    """A persistent headless Chromium context on the fresh profile folder ``profile``."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800}, locale="en-US")
        context.set_default_timeout(timeout_ms)
        try:
            yield context
        finally:
            context.close()


class Page:
    """A fresh tab and every URL it requested."""

    def __init__(self, context, base: str) -> None:
        self.page = context.new_page()
        self.base, self.requests = base, []
        self.page.on("request", lambda r: self.requests.append(r.url))
        # every page starts in English (the language choice is kept in localStorage)
        self.page.add_init_script("localStorage.setItem('slm-lang', 'en')")
        self.prompt_answers: list[str] = []  # what the next window.prompt() gets
        self.page.on("dialog", self._answer)

    def _answer(self, dialog) -> None:
        if dialog.type == "prompt" and self.prompt_answers:
            dialog.accept(self.prompt_answers.pop(0))
        else:
            dialog.accept()

    def open(self, fragment: str = "chat") -> None:
        self.page.goto(f"{self.base}/#{fragment}")
        self.page.wait_for_selector(f"body[data-ready='{fragment}']")

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if SCREENSHOTS.is_dir():
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
