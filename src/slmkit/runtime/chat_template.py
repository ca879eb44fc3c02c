"""Rendering chat messages into a prompt with the model's own Jinja chat template.

Templates come from GGUF metadata (``tokenizer.chat_template``) and are untrusted input,
so they run in Jinja's immutable sandbox. Models without a template fall back to ChatML,
which most small instruct models understand.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from slmkit.core.types import ChatMessage

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class ChatTemplateError(ValueError):
    """A template that fails to compile or render, or rejects the messages given."""


def _raise_exception(message: str):
    raise ChatTemplateError(f"chat template rejected the messages: {message}")


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _tojson(value, indent=None, separators=None, sort_keys=False, ensure_ascii=False):
    """JSON as Hugging Face's templates write it (keys in order, non-ASCII kept), with
    ``<`` and ``>`` escaped: tool definitions and call arguments come from clients, and
    must never spell a control token such as ``<|im_start|>`` into the prompt."""
    import json

    text = json.dumps(value, indent=indent, separators=separators, sort_keys=sort_keys,
                      ensure_ascii=ensure_ascii)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


@functools.lru_cache(maxsize=16)
def _compile(source: str):
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        undefined=jinja2.ChainableUndefined)
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.filters["tojson"] = _tojson
    try:
        return env.from_string(source)
    except jinja2.TemplateError as err:
        raise ChatTemplateError(f"chat template does not compile: {err}") from err


def render_chat(
    messages: Sequence[ChatMessage],
    template: str | None,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
    tools: Sequence[dict] | None = None,
) -> str:
    """Render ``messages`` with ``template`` (ChatML when ``None``); ``tools`` (function
    definitions, OpenAI's shape) go to templates that describe tools themselves."""
    import jinja2

    if not messages:
        raise ChatTemplateError("no messages to render")
    compiled = _compile(template or CHATML_TEMPLATE)
    try:
        return compiled.render(
            messages=[m.to_dict() for m in messages],
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
            tools=list(tools) if tools else None,
        )
    except ChatTemplateError:
        raise
    except jinja2.TemplateError as err:
        raise ChatTemplateError(f"chat template failed to render: {err}") from err
