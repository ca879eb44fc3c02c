"""adapt.finetune.print_summary: the report `slm finetune` prints."""

from rich.console import Console

from slmkit.adapt.finetune import print_summary


def test_summary_shows_losses_compare_table_and_output():
    con = Console(record=True, width=120)
    report = {"method": "lora", "base": "m", "steps": 4, "seconds": 2.0,
              "tokens_per_second": 100.0, "peak_rss_mb": 500.0, "trainable_params": 12345,
              "history": [{"loss": 2.5}, {"eval_loss": 2.0}, {"loss": 1.5}, {"eval_loss": 1.8}],
              "compare": {"before": {"accuracy": 0.25, "text_ppl": None},
                          "after": {"accuracy": 0.5}},
              "output": "out", "adapter_gguf": "out/adapter.gguf"}
    print_summary(con, report)
    text = con.export_text()
    assert "lora fine-tune of m: 4 steps in 2.0 s, 100 tokens/s" in text
    assert "12,345 trainable parameters" in text
    assert "train loss 2.500 → 1.500; eval loss 2.000 → 1.800" in text
    assert "accuracy" in text and "0.25" in text and "text_ppl" not in text
    assert "written to out (adapter GGUF: out/adapter.gguf)" in text
