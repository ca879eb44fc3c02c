"""``models.speeds``: the last measured decode speed per model, kept beside the store."""

from __future__ import annotations

import json

import pytest

from slmkit.models.admin import StoreAdmin
from slmkit.models.speeds import SpeedBook, record_bench
from slmkit.models.store import Store


def test_records_replace_the_previous_one_and_survive_a_new_book(tmp_path):
    book = SpeedBook(tmp_path / "speeds.json")
    assert book.all() == {}
    book.record("a", 10.123, source="measured", tokens=64)
    book.record("b", 5, source="slm bench")
    first = book.record("a", 12.5, source="slm bench", at=1000.0)
    again = SpeedBook(tmp_path / "speeds.json").all()
    assert again["a"] == first == {"decode_tps": 12.5, "source": "slm bench", "at": 1000.0}
    assert again["b"]["decode_tps"] == 5.0 and again["b"]["at"] > 1000
    with pytest.raises(ValueError, match="must be positive"):
        book.record("c", 0, source="measured")


def test_a_damaged_file_reads_as_nothing_measured(tmp_path):
    path = tmp_path / "speeds.json"
    path.write_text("{not json")
    assert SpeedBook(path).all() == {}
    path.write_text(json.dumps(["a list"]))
    assert SpeedBook(path).all() == {}


def test_bench_results_and_ui_measurements_show_in_the_store_rows(tmp_path):
    from helpers.gguf_builder import build_tiny_gguf

    store = Store(tmp_path / "store")
    store.pull(str(build_tiny_gguf(tmp_path / "src" / "base.gguf")))
    admin = StoreAdmin(store)
    assert admin.stored()[0]["speed"] is None
    run = {"results": [{"config": {"model": "base", "engine": "llamacpp", "gen": 128},
                        "metrics": {"decode_tps": 42.0}, "detail": {"threads": 2}},
                       {"config": {"model": "other"}, "metrics": {"decode_tps": None}}]}
    record_bench(run, admin.speeds)
    speed = admin.stored()[0]["speed"]
    assert speed["decode_tps"] == 42.0 and speed["source"] == "slm bench"
    assert speed["threads"] == 2 and speed["engine"] == "llamacpp"
    admin.record_speed("base", {"decode_tps": 50.0, "source": "measured", "tokens": 64,
                                "at": 5.0})
    assert admin.stored()[0]["speed"] == {"decode_tps": 50.0, "source": "measured",
                                          "tokens": 64, "at": 5.0}
    assert "other" not in admin.speeds.all()
