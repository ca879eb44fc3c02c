"""Model catalog, sources (pypi:, hf:, file:), the local store and the hardware probe."""
