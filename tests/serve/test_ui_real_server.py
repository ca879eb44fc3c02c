"""The web UI on a real `slm serve` (the real default model, the CLI's own wiring of
conversations under $SLM_HOME and the model store) in Chromium: a real answer streams in,
is kept server-side, and the models page lists the real store."""

from __future__ import annotations

import httpx
import pytest

from helpers.browser import Page

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_real_model_streams_into_the_page_and_is_kept(server, model_name, browser_context):
    ui = Page(browser_context, server.url)
    try:
        ui.page.set_default_timeout(120_000)
        ui.open()
        ui.page.select_option("#model", model_name)
        ui.page.fill("#max-tokens", "24")
        ui.page.fill("#prompt", "What is the capital of France?")
        ui.page.click("#send")
        answer = ui.page.locator(".msg.assistant").last
        answer.locator(".stats").wait_for()
        assert answer.locator(".content").text_content().strip()
        assert "tokens/s" in answer.locator(".stats").text_content()
        assert not ui.page.locator(".msg .error").count()
        ui.open("models")
        ui.page.wait_for_selector(f"#stored td:text-is('{model_name}')")
        assert [u for u in ui.requests if not u.startswith(server.url)] == []
    finally:
        ui.page.close()
    kept = httpx.get(server.url + "/v1/ui/conversations").json()["data"]
    mine = [c for c in kept if c["title"].startswith("What is the capital of France")]
    assert mine and mine[0]["messages"] == 2
    for c in mine:  # the shared test home keeps no trace of this test
        httpx.delete(f"{server.url}/v1/ui/conversations/{c['id']}",
                     headers={"Content-Type": "application/json"})
