"""The summarizer's prompts, in English and Korean, per style (bullets, paragraph,
actions) and step (one pass; map, reduce; refine).

Korean prompts put the text first and the task after it ("위 글에서 …"): with the task
first, qwen2.5-coder-0.5b-instruct gave a short Korean e-mail back verbatim (measured in
benchmarks/korean_summary.py, docs/first-contact.md)."""

from __future__ import annotations

from slmkit.apps.text import sentences

STYLES = ("bullets", "paragraph", "actions")

SYSTEM = {
    "en": "You summarize documents faithfully. Use only facts stated in the text. Copy names, "
          "numbers and dates exactly as written. Do not add anything.",
    "ko": "당신은 문서를 충실하게 요약합니다. 글에 나온 사실만 쓰고, 이름과 숫자와 날짜는 "
          "원문 그대로 옮깁니다. 없는 내용을 덧붙이지 않습니다.",
}

TASK = {
    ("en", "bullets"): "Summarize the text in at most {items} short bullet points, each "
                       "starting with '- '. At most {words} words in all.",
    ("en", "paragraph"): "Summarize the text in one paragraph of at most {words} words.",
    ("en", "actions"): "List the action items in the text, one per line as "
                       "'- owner: task (due date)'. Leave out owner or date when the text "
                       "does not say. Write 'none' when there are no action items.",
    ("ko", "bullets"): "위 글에서 가장 중요한 내용을 {items}개 이하의 짧은 항목으로 한국어로 "
                       "쓰세요. 각 항목은 '- '로 시작하고 한 줄로 짧게 씁니다.",
    ("ko", "paragraph"): "위 글을 한국어로 한 문단, {words}단어 이내로 요약하세요.",
    ("ko", "actions"): "위 글에 나온 할 일을 한 줄에 하나씩 '- 담당자: 할 일 (기한)' 형식으로 "
                       "쓰세요. 글에 없는 담당자나 기한은 빼세요. 할 일이 없으면 '없음'이라고 "
                       "쓰세요.",
}

LABEL = {"en": ("Text", "Summary so far", "Next part", "Summaries of consecutive parts"),
         "ko": ("글", "지금까지의 요약", "이어지는 부분", "이어지는 부분들의 요약")}

REFINE = {"en": "Update the summary so that it also covers the next part. Keep what is still "
                "important, add what is new.",
          "ko": "지금까지의 요약에 이어지는 부분의 내용을 더해 요약을 고쳐 쓰세요. 중요한 내용은 "
                "남기고 새 내용을 더하세요."}

REDUCE = {"en": "Combine these summaries of consecutive parts of one document into one summary.",
          "ko": "한 문서의 이어지는 부분들을 요약한 것입니다. 하나의 요약으로 합치세요."}


def _lang(lang: str) -> str:
    return "ko" if lang == "ko" else "en"


def system(lang: str) -> str:
    return SYSTEM[_lang(lang)]


def items_for(words: int, text: str | None = None) -> int:
    """How many bullet items to ask for: ``words`` / 15 (3 to 10), and for a short ``text``
    no more than a third of its sentences (at least 3)."""
    items = max(3, min(10, words // 15))
    if text is not None:
        items = min(items, max(3, len(sentences(text)) // 3))
    return items


def task(lang: str, style: str, words: int, items: int | None = None) -> str:
    """The instruction for one step (``items``: the bullet count, default from ``words``)."""
    items = items if items is not None else items_for(words)
    return TASK[(_lang(lang), style)].format(items=items, words=words)


def _ask(instruction: str, material: str, lang: str) -> str:
    """English: the instruction, then the material; Korean: the material, then the
    instruction (see the module docstring)."""
    if _lang(lang) == "ko":
        return f"{material}\n\n{instruction}"
    return f"{instruction}\n\n{material}"


def direct(text: str, lang: str, style: str, words: int, items: int | None = None) -> str:
    """One pass over the whole text (``items``: the bullet count; default from ``words``,
    and for Korean no more than a third of the text's sentences)."""
    label = LABEL[_lang(lang)][0]
    n = items if items is not None else items_for(words, text if _lang(lang) == "ko" else None)
    return _ask(task(lang, style, words, n), f"{label}:\n{text}", lang)


def map_piece(text: str, lang: str, style: str, words: int, i: int, n: int) -> str:
    label = LABEL[_lang(lang)][0]
    where = f"(part {i} of {n})" if _lang(lang) == "en" else f"({n}개 중 {i}번째 부분)"
    return _ask(task(lang, style, words), f"{label} {where}:\n{text}", lang)


def reduce(summaries: list[str], lang: str, style: str, words: int) -> str:
    label = LABEL[_lang(lang)][3]
    joined = "\n\n".join(f"[{i}]\n{s}" for i, s in enumerate(summaries, 1))
    return _ask(f"{REDUCE[_lang(lang)]} {task(lang, style, words)}", f"{label}:\n{joined}",
                lang)


def refine(summary: str, text: str, lang: str, style: str, words: int) -> str:
    so_far, nxt = LABEL[_lang(lang)][1], LABEL[_lang(lang)][2]
    return _ask(f"{REFINE[_lang(lang)]} {task(lang, style, words)}",
                f"{so_far}:\n{summary}\n\n{nxt}:\n{text}", lang)


def max_tokens(lang: str, words: int) -> int:
    """Tokens to allow for an answer of ``words`` words (Korean takes more per word)."""
    return int(words * (4.0 if _lang(lang) == "ko" else 2.0)) + 32
