"""The chat page in Chromium: streaming, stop, model switching, history across a reload,
hostile answers shown as text, no third-party requests, the API key dialog."""

from __future__ import annotations

import pytest

from browser.conftest import API_KEY, Page, ui_app
from helpers.fake_server import LiveServer

pytestmark = pytest.mark.browser


def _send(ui: Page, model: str, text: str) -> None:
    ui.page.select_option("#model", model)
    ui.page.fill("#prompt", text)
    ui.page.click("#send")


def _answers(ui: Page):
    return ui.page.locator(".msg.assistant")


def test_chat_streams_an_answer_with_markdown_stats_and_copyable_code(ui: Page):
    ui.open()
    _send(ui, "fake", "Say **hi** please")
    answer = _answers(ui).last
    answer.locator(".stats").wait_for()
    assert answer.locator("strong").first.text_content() == "hi"
    assert "tokens/s" in answer.locator(".stats").text_content()
    assert "first token" in answer.locator(".stats").text_content()
    _send(ui, "markdown", "show me code")
    _answers(ui).nth(1).locator(".stats").wait_for()
    block = _answers(ui).nth(1).locator(".codeblock")
    assert _answers(ui).nth(1).locator("li").all_text_contents() == ["one", "two"]
    assert "print('copy me')" in block.locator("code").text_content()
    ui.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    block.locator("button.copy").click()
    block.locator("button.copy:text-is('Copied')").wait_for()
    assert ui.page.evaluate("() => navigator.clipboard.readText()") == "print('copy me')"
    ui.shot("chat")


def test_stop_aborts_the_stream_and_the_server_cancels(ui: Page, ui_server):
    ui.open()
    _send(ui, "slow", "go on for a while")
    answer = _answers(ui).last
    ui.page.wait_for_function(
        "() => (document.querySelector('.msg.assistant:last-child .content')"
        " || {textContent: ''}).textContent.length > 20")
    ui.page.click("#stop")
    answer.locator(".stats").wait_for()
    assert "stopped" in answer.locator(".stats").text_content()
    text = answer.locator(".content").text_content()
    assert "word399" not in text
    engine = ui_server.loader.last("slow")
    assert engine.cancelled.wait(10), "the server did not cancel the generation"
    assert ui.page.locator("#send").is_enabled()


def test_switching_models_changes_who_answers(ui: Page):
    ui.open()
    options = ui.page.locator("#model option").all_text_contents()
    assert {"fake", "other", "rag:docs"} <= set(options)
    _send(ui, "fake", "first")
    _answers(ui).last.locator(".stats").wait_for()
    _send(ui, "other", "second")
    _answers(ui).nth(1).locator(".stats").wait_for()
    assert _answers(ui).nth(0).locator(".content").text_content().startswith("local:")
    assert _answers(ui).nth(1).locator(".content").text_content().startswith("other model says")


def test_a_conversation_survives_a_reload_and_can_be_renamed_and_deleted(ui: Page):
    ui.open()
    ui.page.click("#new-chat")
    _send(ui, "fake", "remember the word pineapple")
    _answers(ui).last.locator(".stats").wait_for()
    ui.page.wait_for_selector(".conv-list li.current")
    ui.page.reload()
    ui.page.wait_for_selector("body[data-ready='chat']")
    ui.page.wait_for_selector(".msg.assistant .stats")
    assert "pineapple" in ui.page.locator(".msg.user").first.text_content()
    assert "remember the word" in ui.page.locator(".conv-list li.current .open").text_content()
    # a fresh tab (no session state): the conversation is in the server's list
    other = Page(ui.page.context, ui.base)
    other.open()
    titles = other.page.locator(".conv-list .open").all_text_contents()
    assert any("pineapple" in t for t in titles)
    other.page.close()
    ui.prompt_answers.append("Fruit talk")
    ui.page.locator(".conv-list li.current button", has_text="Rename").click()
    ui.page.wait_for_selector(".conv-list li.current .open:text('Fruit talk')")
    with ui.page.expect_download() as download:
        ui.page.locator(".conv-list li.current button", has_text="Markdown").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.startswith("# Fruit talk") and "pineapple" in text
    ui.page.locator(".conv-list li.current button", has_text="Delete").click()
    ui.page.wait_for_selector(".conv-list .open:text('Fruit talk')", state="detached")
    assert ui.page.locator(".conv-list li.current").count() == 0


def test_hostile_answers_and_prompts_render_as_text(ui: Page):
    ui.open()
    _send(ui, "hostile", "<img src=y onerror=\"window.__pwned = 3\"> hi")
    answer = _answers(ui).last
    answer.locator(".stats").wait_for()
    assert "<script>window.__pwned = 1</script>" in answer.text_content()
    assert "onerror" in answer.text_content()
    assert ui.page.locator(".msg.user").last.text_content().startswith("<img src=y")
    assert ui.page.locator(".messages img, .messages script").count() == 0
    assert ui.page.evaluate("window.__pwned") is None


def test_json_mode_sends_the_schema(ui: Page):
    ui.open()
    ui.page.check("#json-mode")
    ui.page.fill("#schema", '{"type": "object"}')
    with ui.page.expect_request("**/v1/chat/completions") as req:
        _send(ui, "fake", "give json")
    body = req.value.post_data_json
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert body["max_tokens"] == 512 and body["stream"] is True
    _answers(ui).last.locator(".stats").wait_for()
    ui.page.fill("#schema", "{not json")
    _send(ui, "fake", "again")
    ui.page.wait_for_selector("#status:text('not valid JSON')")
    ui.page.uncheck("#json-mode")


def test_language_follows_the_switch(ui: Page):
    ui.open()
    ui.page.select_option("#lang", "ko")
    assert ui.page.locator("#send").text_content() == "보내기"
    assert ui.page.locator("html").get_attribute("lang") == "ko"
    ui.shot("chat.ko")
    ui.page.select_option("#lang", "en")
    assert ui.page.locator("#send").text_content() == "Send"


def test_the_api_key_is_asked_once_and_kept_for_the_tab(browser_context, tmp_path):
    app, _ = ui_app(tmp_path, api_keys=_keys())
    with LiveServer(app) as server:
        ui = Page(browser_context, server.url)
        ui.page.goto(server.url + "/#chat")
        ui.page.wait_for_selector("#key-dialog[open]")
        ui.page.fill("#key-input", API_KEY)
        ui.page.click("#key-form button[type=submit]")
        ui.page.wait_for_selector("#model option[value='fake']", state="attached")
        ui.page.reload()
        ui.page.wait_for_selector("body[data-ready='chat']")
        assert not ui.page.locator("#key-dialog").evaluate("d => d.open")
        _send(ui, "fake", "with a key")
        _answers(ui).last.locator(".stats").wait_for()
        assert "with a key" in _answers(ui).last.text_content()
        ui.page.close()


def _keys():
    from slmkit.serve.auth import ApiKeys

    return ApiKeys([API_KEY])
