"""The web UI in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright), against the real app served by uvicorn on loopback over fake engines (fast,
deterministic, and able to answer with hostile text). ``make test`` installs Chromium when
it is missing; without it these tests skip, saying so."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers.fake_engine import FakeLocal
from helpers.fake_server import FakeLoader, LiveServer, fake_app
from helpers.ui_fakes import MemoryCollections, SlowAdmin, SlowFake

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "ui"
HOSTILE = ('Look: <script>window.__pwned = 1</script> and <img src=x '
           'onerror="window.__pwned = 2"> **bold** done')
MARKDOWN = "Here is **code**:\n\n```python\nprint('copy me')\n```\n\n- one\n- two\n"
API_KEY = "ui-test-key-0123456789"


def _chromium_or_skip() -> str:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is not installed (/usr/bin/chromium): `make test` installs it "
                    "with apt-get install -y chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is missing: pip install -e '.[test]'")
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


def ui_app(tmp: Path, **options):
    """The app as ``slm serve`` builds it, over fake engines and in-memory services."""
    from slmkit.serve import routes_rag
    from slmkit.serve.conversations import ConversationStore

    loader = FakeLoader({
        "fake": lambda: FakeLocal(name="fake"),
        "other": lambda: FakeLocal(name="other", answer=lambda p: f"other model says: {p}"),
        "slow": lambda: SlowFake(name="slow", delay=0.05,
                                 answer=" ".join(f"word{i}" for i in range(400))),
        "markdown": lambda: FakeLocal(name="markdown", answer=MARKDOWN),
        "hostile": lambda: FakeLocal(name="hostile", answer=HOSTILE),
        "rag:docs": lambda: FakeLocal(name="rag:docs",
                                      answer="The launch code is blue [1]."),
    })
    state = {"rag": MemoryCollections(), "models_admin": SlowAdmin(),
             "conversations": ConversationStore(tmp / "conversations.sqlite")}
    app, service = fake_app(loader, routers=[routes_rag.router], state=state, **options)
    return app, loader


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    """One persistent Chromium context (a fresh user-data dir) for the session."""
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=executable,
            headless=True, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 800},
            locale="en-US")
        context.set_default_timeout(15_000)
        yield context
        context.close()


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory, browser_context):
    app, loader = ui_app(tmp_path_factory.mktemp("ui-home"))
    with LiveServer(app) as server:
        server.loader = loader
        yield server


class Page:
    """A fresh tab and every URL it requested."""

    def __init__(self, context, base: str) -> None:
        self.page = context.new_page()
        self.base, self.requests = base, []
        self.page.on("request", lambda r: self.requests.append(r.url))
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
        if SCREENSHOTS.is_dir():
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def ui(browser_context, ui_server):
    page = Page(browser_context, ui_server.url)
    yield page
    page.page.close()
