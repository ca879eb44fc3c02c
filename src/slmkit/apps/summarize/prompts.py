"""The summarizer's prompts, in English and Korean, per style (bullets, paragraph,
actions) and step (one pass; map, reduce; refine)."""

from __future__ import annotations

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
    ("ko", "bullets"): "글을 한국어로 {items}개 이하의 짧은 항목으로 요약하세요. 각 항목은 "
                       "'- '로 시작합니다. 모두 합쳐 {words}단어 이내로 쓰세요.",
    ("ko", "paragraph"): "글을 한국어로 한 문단, {words}단어 이내로 요약하세요.",
    ("ko", "actions"): "글에 나온 할 일을 한 줄에 하나씩 '- 담당자: 할 일 (기한)' 형식으로 "
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


def task(lang: str, style: str, words: int) -> str:
    items = max(3, min(10, words // 15))
    return TASK[(_lang(lang), style)].format(items=items, words=words)


def direct(text: str, lang: str, style: str, words: int) -> str:
    """One pass over the whole text."""
    label = LABEL[_lang(lang)][0]
    return f"{task(lang, style, words)}\n\n{label}:\n{text}"


def map_piece(text: str, lang: str, style: str, words: int, i: int, n: int) -> str:
    label = LABEL[_lang(lang)][0]
    where = f"(part {i} of {n})" if _lang(lang) == "en" else f"({n}개 중 {i}번째 부분)"
    return f"{task(lang, style, words)}\n\n{label} {where}:\n{text}"


def reduce(summaries: list[str], lang: str, style: str, words: int) -> str:
    label = LABEL[_lang(lang)][3]
    joined = "\n\n".join(f"[{i}]\n{s}" for i, s in enumerate(summaries, 1))
    return f"{REDUCE[_lang(lang)]} {task(lang, style, words)}\n\n{label}:\n{joined}"


def refine(summary: str, text: str, lang: str, style: str, words: int) -> str:
    so_far, nxt = LABEL[_lang(lang)][1], LABEL[_lang(lang)][2]
    return (f"{REFINE[_lang(lang)]} {task(lang, style, words)}\n\n{so_far}:\n{summary}\n\n"
            f"{nxt}:\n{text}")


def max_tokens(lang: str, words: int) -> int:
    """Tokens to allow for an answer of ``words`` words (Korean takes more per word)."""
    return int(words * (4.0 if _lang(lang) == "ko" else 2.0)) + 32
