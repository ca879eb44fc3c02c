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


MEMO = ("Minutes of the plant meeting. Lee will order two spare pumps by Monday. "
        "Line 3 stopped for 40 minutes on Tuesday because a sensor failed. "
        "The team agreed to check every sensor each week.")


def test_real_app_form_renders_a_summary_and_models_show_the_speed(server, model_name,
                                                                  browser_context):
    r = httpx.post(server.url + "/v1/chat/completions", timeout=120, json={
        "model": model_name, "max_tokens": 16, "temperature": 0,
        "messages": [{"role": "user", "content": "Count from one to twenty."}]})
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] >= 4
    ui = Page(browser_context, server.url)
    try:
        ui.page.set_default_timeout(120_000)
        ui.open("apps")
        ui.page.select_option("#app-name", "summarize")
        ui.page.fill("#app-f-text", MEMO)
        ui.page.fill("#app-f-max_words", "30")
        ui.page.click("#app-run")
        out = ui.page.locator("#app-result .app-output[data-result='summaries']")
        out.wait_for()
        assert out.locator(".summary").text_content().strip()
        assert "Lee" in out.text_content()  # the action item and its owner
        assert not ui.page.locator("#app-result .failed").count()
        ui.shot("apps.summarize")
        ui.open("models")
        row = ui.page.locator("#stored tr", has=ui.page.locator(f"td:text-is('{model_name}')"))
        assert "tokens/s over the last" in row.locator(".speed .recent").text_content()
        measured = row.locator(".speed .measured")
        before = measured.locator("time").get_attribute("datetime") if measured.count() else ""
        row.locator("button:text-is('Measure')").click()
        ui.page.wait_for_function(  # the shared store may keep an earlier measurement
            "([name, before]) => { const t = document.querySelector("
            "`.speed[data-model='${name}'] .measured time`);"
            " return t && t.getAttribute('datetime') !== before; }", arg=[model_name, before])
        assert "tokens/s" in measured.text_content() and measured.locator("time").count() == 1
        ui.shot("models.speed")
        assert [u for u in ui.requests if not u.startswith(server.url)] == []
    finally:
        ui.page.close()
