"""The web UI in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright), against the real app served by uvicorn on loopback over fake engines (fast,
deterministic, and able to answer with hostile text); the logs app's real handlers (they
need no model) give the apps page a declared form. ``make test`` installs Chromium when
it is missing; without it these tests skip, saying so."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.fake_engine import FakeLocal
from helpers.fake_server import FakeLoader, LiveServer, fake_app
from helpers.browser import Page
from helpers.ui_fakes import ContractFake, MemoryCollections, ReviewApp, SlowAdmin, SlowFake

HOSTILE = ('Look: <script>window.__pwned = 1</script> and <img src=x '
           'onerror="window.__pwned = 2"> **bold** done')
MARKDOWN = "Here is **code**:\n\n```python\nprint('copy me')\n```\n\n- one\n- two\n"
API_KEY = "ui-test-key-0123456789"


def ui_app(tmp: Path, **options):
    """The app as ``slm serve`` builds it, over fake engines and in-memory services."""
    from slmkit.apps.logs.service import handlers as logs_handlers
    from slmkit.serve import routes_apps, routes_rag
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
             "conversations": ConversationStore(tmp / "conversations.sqlite"),
             "operations": ledger_report(tmp / "ledger.sqlite"), "apps": {"review": ReviewApp(), "contract": ContractFake(),
                                          **logs_handlers(), **code_handlers(tmp)}}
    app, service = fake_app(loader, routers=[routes_rag.router, routes_apps.router], state=state,
                            **options)
    return app, loader


def code_handlers(tmp: Path) -> dict:
    """The code apps' real handlers; the model is a fake that writes one docstring."""
    from contextlib import contextmanager

    from slmkit.apps.code.handler import CodeDocApp, CodeReviewApp
    from slmkit.rag.code_ask import CodeAskApp

    @contextmanager
    def engines(model):
        yield FakeLocal(name="coder", grammar=True,
                        schema_answer='{"docstring": "Add two numbers."}')

    apps = [CodeReviewApp(engines), CodeDocApp(engines), CodeAskApp(engines, None, home=tmp)]
    return {a.name: a for a in apps}


def ledger_report(path: Path):
    """A real routing ledger with three requests, reported as ``slm serve`` reports it."""
    from slmkit.route.ledger import Entry, Ledger
    from slmkit.route.report import operations

    ledger = Ledger(path)
    ledger.record(Entry(route="local", reason="confident"))
    ledger.record(Entry(route="remote", reason="low_logprob: -2.1", masked=2, remote_cost=0.002,
                        all_remote_cost=0.002, remote_model="up"))
    ledger.record(Entry(route="local", reason="guard_keep_local: EMAIL (wanted remote: hard)",
                        all_remote_cost=0.001))
    ledger.close()
    return lambda: operations(path)


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory, browser_context):
    app, loader = ui_app(tmp_path_factory.mktemp("ui-home"))
    with LiveServer(app) as server:
        server.loader = loader
        yield server


@pytest.fixture
def ui(browser_context, ui_server):
    page = Page(browser_context, ui_server.url)
    yield page
    page.page.close()
