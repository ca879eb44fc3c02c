"""models.catalog_view and models.info's text: what `slm catalog` and `slm show` lay out."""

from __future__ import annotations

from slmkit.models import catalog, catalog_view, hardware
from slmkit.models.info import show_text


def test_shown_quants_adds_the_asked_one():
    assert catalog_view.shown_quants("Q8_0") == ("F16", "Q8_0", "Q4_K_M")
    assert catalog_view.shown_quants("Q5_K_M") == ("F16", "Q8_0", "Q4_K_M", "Q5_K_M")


def test_plain_table_has_one_line_per_model():
    hw = hardware.probe()
    rows = catalog.survey(hw, quant="Q4_K_M", n_ctx=4096)
    text = catalog_view.plain_table(hw, rows, ("F16", "Q4_K_M"), "Q4_K_M", 4096).splitlines()
    assert text[1].split()[:7] == ["name", "params", "tier", "ctx", "licence", "F16", "Q4_K_M"]
    assert len(text) == len(rows) + 3 and text[-1].startswith("* default model: ")


def test_show_text_previews_the_template():
    facts = {"architecture": "llama", "chat_template": "\n".join(f"l{i}" for i in range(10)),
             "metadata": {"general.name": "a\nb"}}
    lines = show_text(facts)
    assert lines[0] == "  architecture    llama"
    assert "    … 2 more lines (--template shows all)" in lines
    assert lines[-1] == "    general.name = a\\nb"
    assert "    l9" in show_text(facts, full_template=True)
