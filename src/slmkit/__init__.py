"""slmkit: run, serve, measure and adapt Small Language Models on your own hardware."""

__version__ = "0.1.0"
