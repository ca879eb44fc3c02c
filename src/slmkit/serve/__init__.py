"""HTTP serving: OpenAI- and Ollama-compatible routes over any ``core.Engine``.

Layers (each file only talks to the next): ``app`` (routes, middleware) → ``protocol_*``
(pydantic request schemas, response shapes) → ``service`` (protocol ↔ ``core`` requests and
chunks, admission, streaming bridge) → ``registry`` (which models are loaded) → ``Engine``.
Nothing here imports ``models`` or ``runtime``: the CLI injects a loader.
"""
