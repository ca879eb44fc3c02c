"""Test helpers: tiny GGUF files, tiny wheels, a local pip environment."""
