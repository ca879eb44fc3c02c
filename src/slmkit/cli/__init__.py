"""The `slm` command: a thin dispatcher (main.py) and one module per verb."""
