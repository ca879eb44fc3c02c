"""After the browser tests of a module, the main thread has no running event loop left
(Playwright's sync API runs one while a browser is open): asyncio.run works again."""

from __future__ import annotations

import asyncio


def test_asyncio_run_works_after_the_browser_modules():
    async def answer() -> int:
        return 42

    assert asyncio.run(answer()) == 42
