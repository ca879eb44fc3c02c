"""The models, documents and operations pages in Chromium; every page requests nothing
from another origin and passes axe-core without serious violations."""

from __future__ import annotations

import pytest

from browser.conftest import Page

pytestmark = pytest.mark.browser
PAGES = ("chat", "models", "documents", "operations", "apps")


def test_a_pull_shows_progress_and_the_model_appears(ui: Page):
    ui.open("models")
    assert "tiny-base (quantize)" in ui.page.locator("#stored").text_content()
    child = ui.page.locator(".lineage li:has(> .node:text-is('tiny-base')) li .node")
    assert child.all_text_contents() == ["tiny-q4"]  # drawn under the model it came from
    ui.page.fill("#pull-name", "new-model")
    ui.page.click("#pull-form button[type=submit]")
    job = ui.page.locator("#pull-jobs .job").first
    ui.page.wait_for_function(
        "() => { const p = document.querySelector('#pull-jobs progress');"
        " return p && p.value > 0 && p.value < 100; }")
    ui.shot("models")
    ui.page.reload()  # the job runs on the server: the page finds it again
    ui.page.wait_for_selector("body[data-ready='models']")
    ui.page.wait_for_selector("#pull-jobs .job[data-state='done']", timeout=20_000)
    assert "new-model" in job.text_content()
    ui.page.wait_for_selector("#stored td:text-is('new-model')")


def test_load_then_unload_a_model(ui: Page):
    ui.open("models")
    row = ui.page.locator("#stored tr", has=ui.page.locator("td:text-is('other')"))
    if row.locator("button:text-is('Unload')").count():  # loaded by an earlier test
        row.locator("button:text-is('Unload')").click()
        row.locator("button:text-is('Load')").wait_for()
    row.locator("button:text-is('Load')").click()
    row.locator("button:text-is('Unload')").wait_for()
    assert row.locator("td").nth(5).text_content() == "yes"
    assert row.locator("button", has_text="Delete").is_disabled()
    row.locator("button:text-is('Unload')").click()
    row.locator("button:text-is('Load')").wait_for()
    assert row.locator("td").nth(5).text_content() == "no"


def test_upload_a_folder_then_ask_with_a_citation(ui: Page, tmp_path):
    folder = tmp_path / "handbook"
    folder.mkdir()
    (folder / "launch.md").write_text("# Launch\nThe launch code is blue.\nNothing else.\n")
    (folder / "broken.txt").write_text("FAIL to parse me\n")
    (folder / "image.bin").write_bytes(b"\x00\x01binary")
    (folder / '<img src=x onerror="window.__pwned=4">.txt').write_text("FAIL hostile name\n")
    ui.open("documents")
    ui.page.fill("#collection-name", "docs")
    ui.page.set_input_files("#folder", str(folder))
    ui.page.click("#upload-form button[type=submit]")
    ui.page.wait_for_selector("#ingest-jobs .job:not([data-state='running'])")
    files = ui.page.locator("#documents-files, .file")
    assert ui.page.locator(".file.done[data-file$='launch.md']").count() == 1
    assert "could not be parsed" in ui.page.locator(".file.failed[data-file$='broken.txt']").text_content()
    assert "not a text file" in ui.page.locator(".file.failed[data-file$='image.bin']").text_content()
    assert files.count() >= 4
    hostile = ui.page.locator(".file.failed[data-file*='onerror']")
    assert '<img src=x onerror="window.__pwned=4">.txt' in hostile.text_content()
    assert ui.page.locator("#page-documents img").count() == 0
    assert ui.page.evaluate("window.__pwned") is None
    ui.page.wait_for_selector("#collections td:text-is('docs')")
    ui.page.select_option("#ask-collection", "docs")
    ui.page.fill("#question", "what is the launch code")
    ui.page.click("#ask-form button[type=submit]")
    ui.page.locator("#answer button.cite[data-cite='1']").click()
    ui.page.wait_for_selector("#passage-dialog[open]")
    assert "The launch code is blue." in ui.page.locator("#passage-text").text_content()
    assert "launch.md" in ui.page.locator("#passage-h").text_content()
    ui.shot("documents")
    ui.page.locator("#passage-dialog button").click()


def test_drop_a_collection_after_confirming(ui: Page, ui_server):
    ui.open("documents")
    rows_before = ui.page.locator("#collections tbody tr").count()
    if rows_before == 0:
        pytest.skip("needs the collection made by the upload test")
    ui.page.locator("#collections button", has_text="Drop").first.click()
    ui.page.wait_for_function(f"() => document.querySelectorAll('#collections tbody tr').length < {rows_before}")


def test_operations_shows_live_metrics(ui: Page):
    ui.open("operations")
    ui.page.wait_for_selector(".chart[data-chart='tps']")
    assert ui.page.locator(".chart").count() == 7
    assert ui.page.locator(".chart svg polyline").count() == 7
    extra = ui.page.locator("#ops-extra")
    extra.locator("table").nth(1).wait_for()
    text = extra.text_content()
    assert "local: 2" in text and "remote: 1" in text and "guard_keep_local: 1" in text
    guard = extra.locator("table").nth(1).locator("td").all_text_contents()
    assert guard == ["Values masked before leaving", "2", "Kept local by the guard", "1",
                     "Blocked by the guard", "0"]
    ui.page.wait_for_selector(".chart[data-chart='requests'][data-points='3']", timeout=20_000)
    ui.shot("operations")


def test_an_app_without_a_form_takes_json_and_shows_tables(ui: Page):
    ui.open("apps")
    assert ui.page.locator("a[data-page='apps']").is_visible()
    ui.page.select_option("#app-name", "review")
    ui.page.fill("#app-payload", '{"text": "ok\\nTODO <b>fix</b> this\\nfine"}')
    ui.page.click("#app-form button[type=submit]")
    ui.page.wait_for_selector("#app-result table")
    assert "1 finding(s) in 3 lines" in ui.page.locator("#app-result").text_content()
    assert ui.page.locator("#app-result mark").text_content() == "TODO <b>fix</b> this"
    assert ui.page.locator("#app-result b").count() == 0
    assert ui.page.locator("#app-result progress").get_attribute("max") == "1"
    ui.page.fill("#app-payload", "[1, 2]")
    ui.page.click("#app-form button[type=submit]")
    ui.page.wait_for_selector("#status:text('must be a JSON object')")


LOG = "\n".join(f"2024-05-01 10:00:{i:02d} INFO web: request served in {10 + i % 5} ms"
                for i in range(30))
HOSTILE_LOG = "2024-05-01 10:01:00 ERROR db: connection <img src=x onerror=\"window.__pwned=5\"> refused"


def test_an_app_form_is_drawn_from_its_declaration_and_renders_its_result(ui: Page, tmp_path):
    ui.open("apps")
    ui.page.select_option("#app-name", "logs/detect")
    assert ui.page.locator("label[for='app-f-lines']").text_content().startswith("Log")
    assert ui.page.locator("#app-f-all").get_attribute("type") == "checkbox"
    assert ui.page.locator("#app-f-format").input_value() == "auto"
    ui.page.click("#app-run")  # the log is required
    ui.page.wait_for_selector("#status:text('Fill in: Log')")
    ui.page.fill("#app-f-baseline", LOG)
    log = tmp_path / "today.log"
    log.write_text(LOG + "\n" + HOSTILE_LOG + "\n")
    ui.page.set_input_files("#app-f-lines-files", str(log))
    ui.page.fill("#app-f-stream_id", "browser-test")
    ui.page.click("#app-run")
    result = ui.page.locator("#app-result .app-output[data-result='log_anomalies']")
    result.wait_for()
    assert "31 event(s) checked, 1 anomal(ies)." in result.text_content()
    assert "connection <img src=x" in result.locator("mark").text_content()
    assert "severity" in result.locator("table").first.text_content()
    assert ui.page.locator("#app-result img").count() == 0
    assert ui.page.evaluate("window.__pwned") is None
    ui.shot("apps")
    assert _serious(ui) == []  # the drawn form and the rendered result
    raw = ui.page.locator("#app-result details.raw")
    assert not raw.locator("pre").is_visible()
    raw.locator("summary").click()
    assert '"counts"' in raw.locator("pre").text_content()
    ui.page.select_option("#lang", "ko")  # the declared Korean labels; the typed text stays
    assert ui.page.locator("label[for='app-f-lines']").text_content().startswith("로그")
    assert ui.page.locator("#app-f-stream_id").input_value() == "browser-test"
    assert "이상 탐지" in ui.page.locator("#app-name option:checked").text_content()
    assert "이벤트 31개 검사, 이상 1개." in result.text_content()  # the result is redrawn too
    ui.shot("apps.ko")
    ui.page.select_option("#lang", "en")


def test_a_review_highlights_its_evidence_in_the_document(ui: Page):
    text = ("계약 🙂 <b>draft</b>\nThis agreement is made between ACME <i>Ltd</i> and Kim.\n"
            "It renews every year.")
    ui.open("apps")
    ui.page.select_option("#app-name", "contract")
    assert ui.page.locator("#app-f-checklist option").all_text_contents() == [
        "contract", "nda", "employment"]
    ui.page.fill("#app-f-text", text)
    ui.page.click("#app-run")
    out = ui.page.locator("#app-result .app-output[data-result='reviews']")
    out.wait_for()
    rows = out.locator("table").first.locator("tbody tr")
    assert rows.nth(0).locator("td").all_text_contents()[:2] == ["party", "found"]
    assert rows.nth(1).locator("td").nth(1).text_content() == "not found"
    evidence = "between ACME <i>Ltd</i> and Kim."
    assert out.locator(".evidence mark[data-field='party']").text_content() == evidence
    assert out.locator(".evidence").text_content() == text  # the whole document, as text
    assert out.locator("i, b").count() == 0
    assert "no liability cap was found" in out.text_content()


def test_measure_shows_a_decode_speed_with_when(ui: Page):
    ui.open("models")
    row = ui.page.locator("#stored tr", has=ui.page.locator("td:text-is('other')"))
    assert "not measured yet" in row.text_content()
    row.locator("button:text-is('Measure')").click()
    speed = row.locator(".speed .measured")
    speed.wait_for()
    assert "tokens/s" in speed.text_content() and "measured here" in speed.text_content()
    assert speed.locator("time").get_attribute("datetime").startswith("20")


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("page", PAGES)
def test_no_request_leaves_the_origin_and_axe_finds_no_serious_violation(ui: Page, page, lang):
    ui.open(page)
    ui.page.select_option("#lang", lang)
    assert ui.page.locator("html").get_attribute("lang") == lang
    ui.page.wait_for_load_state("networkidle")
    foreign = [u for u in ui.requests if not u.startswith(ui.base) and not u.startswith(("data:", "blob:"))]
    assert foreign == []
    assert _serious(ui) == []


def _serious(ui: Page) -> list:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(ui.page)
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_keyboard_only_skip_link_pages_and_enter_to_send(ui: Page):
    ui.open()
    ui.page.keyboard.press("Tab")
    assert ui.page.evaluate("() => document.activeElement.className") == "skip"
    ui.page.keyboard.press("Tab")
    assert ui.page.evaluate("() => document.activeElement.dataset.page") == "chat"
    ui.page.keyboard.press("Tab")
    ui.page.keyboard.press("Enter")  # the Models link
    ui.page.wait_for_selector("body[data-ready='models']")
    ui.page.goto(ui.base + "/#chat")
    ui.page.wait_for_selector("body[data-ready='chat']")
    ui.page.select_option("#model", "fake")
    ui.page.focus("#prompt")
    ui.page.keyboard.type("typed only")
    ui.page.keyboard.press("Enter")
    ui.page.locator(".msg.assistant .stats").last.wait_for()
    assert "typed only" in ui.page.locator(".msg.assistant").last.text_content()
