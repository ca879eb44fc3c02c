import pytest

from slmkit.core.types import ChatMessage
from slmkit.runtime.chat_template import ChatTemplateError, render_chat

MSGS = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")]


def test_chatml_fallback():
    out = render_chat(MSGS, None)
    assert out == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                   "<|im_start|>assistant\n")


def test_model_template_with_bos_and_generation_prompt():
    tpl = ("{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
           "{% if add_generation_prompt %}[assistant]{% endif %}")
    assert render_chat(MSGS, tpl, bos_token="<s>") == "<s>[system]Be brief.[user]Hi[assistant]"
    assert render_chat(MSGS, tpl, add_generation_prompt=False).endswith("Hi")


def test_raise_exception_in_template_is_a_clear_error():
    tpl = "{% if messages[0].role == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
    with pytest.raises(ChatTemplateError, match="no system role"):
        render_chat(MSGS, tpl)


def test_broken_template_is_a_clear_error():
    with pytest.raises(ChatTemplateError, match="does not compile"):
        render_chat(MSGS, "{% for %}")


def test_template_is_sandboxed():
    tpl = "{{ messages.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(ChatTemplateError):
        render_chat(MSGS, tpl)


def test_no_messages():
    with pytest.raises(ChatTemplateError):
        render_chat([], None)
