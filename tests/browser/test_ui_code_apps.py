"""The code apps' declared forms in the web UI: review a file chosen from disk with the
deterministic checks (its name becomes the path), docstrings as a patch, and the question
form of code/ask — each drawn from the handler's ``AppForm``, not the JSON box."""

from __future__ import annotations

from helpers.browser import Page

CODE = ("import os\n\n\ndef add(a, b=[]):\n    try:\n        return a + b\n"
        "    except:\n        return '<img src=x onerror=\"window.__pwned = 7\">'\n")


def test_code_review_form_reads_a_file_and_shows_findings_and_patches(ui: Page, tmp_path):
    ui.open("apps")
    ui.page.select_option("#app-name", "code/review")
    assert ui.page.locator("#app-payload").count() == 0  # a drawn form, not the JSON box
    assert ui.page.locator("label[for='app-f-text']").text_content().startswith("Code")
    assert "code-input" in ui.page.locator("#app-f-diff").get_attribute("class")
    assert ui.page.locator("#app-f-checks_only").get_attribute("type") == "checkbox"
    source = tmp_path / "calc.py"
    source.write_text(CODE)
    ui.page.set_input_files("#app-f-text-files", str(source))
    ui.page.check("#app-f-checks_only")
    ui.page.click("#app-run")
    out = ui.page.locator("#app-result .app-output[data-result='code']")
    out.wait_for()
    findings = out.locator("table").first
    text = findings.text_content()
    assert "bare-except" in text and "mutable-default" in text and "unused-import" in text
    assert "calc.py" in text  # the chosen file's name became the path
    assert "+    except Exception:" in findings.locator("pre code").all_text_contents()[-1]
    assert ui.page.locator("#app-result img").count() == 0
    assert ui.page.evaluate("window.__pwned") is None
    ui.shot("apps.code")


def test_code_doc_form_returns_a_patch_and_code_ask_draws_its_form(ui: Page):
    ui.open("apps")
    ui.page.select_option("#app-name", "code/doc")
    ui.page.click("#app-run")  # the file is required
    ui.page.wait_for_selector("#status:text('Fill in: Python file')")
    ui.page.fill("#app-f-text", "def add(a, b):\n    return a + b\n")
    ui.page.fill("#app-f-path", "calc.py")
    ui.page.click("#app-run")
    out = ui.page.locator("#app-result .app-output[data-result='code']")
    out.wait_for()
    patch = out.locator("section pre code").first.text_content()
    assert patch.startswith("--- a/calc.py") and '+    """Add two numbers."""' in patch
    ui.page.select_option("#app-name", "code/ask")
    assert ui.page.locator("#app-f-k").get_attribute("type") == "number"
    assert ui.page.locator("#app-f-update").is_checked()
    ui.page.select_option("#lang", "ko")
    assert ui.page.locator("label[for='app-f-question']").text_content().startswith("질문")
    assert "저장소에 묻기" in ui.page.locator("#app-name option:checked").text_content()
    ui.page.select_option("#lang", "en")
