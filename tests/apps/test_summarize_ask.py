"""Korean summary asks in a chat prompt (issue 14, item 4): `slm run "다음 이메일을 세 줄로
요약해줘: …"` is answered with the summarizer's prompt (text first, the task after), the
summarizer's Korean prompts put the text first, and a summary that gives the document back
is flagged. tests/apps/test_first_contact_real.py runs the default model on a Korean e-mail
(sent as typed, it gave the e-mail back verbatim)."""

from __future__ import annotations

from types import SimpleNamespace

from helpers.fake_engine import FakeLocal
from slmkit.apps.chat import one_request
from slmkit.apps.documents import from_text
from slmkit.apps.summarize import SummaryOptions, prompts, summarize
from slmkit.apps.summarize.ask import parse, rewrite
from slmkit.apps.summarize.checks import covered_share, echoes
from slmkit.core.types import SAMPLING_FIELDS

MAIL = ("안녕하세요 여러분, 다음 주 월요일 오전 10시로 잡혀 있던 신제품 기획 회의를 목요일 오후 "
        "2시로 옮깁니다. 디자인 시안이 수요일 저녁에야 나오기 때문입니다. 장소는 그대로 7층 "
        "세미나실입니다. 회의 전까지 각 팀의 출시 일정 초안을 공유 폴더에 올려 주시고, 참석이 "
        "어려운 분은 수요일까지 저에게 알려 주세요. 감사합니다. 기획팀 이서연 드림")
ASK = f"다음 이메일을 세 줄로 요약해줘:\n\n{MAIL}"


def args(**over) -> SimpleNamespace:
    base = {"max_tokens": 160, "stop": [], "seed": 0, "system": None,
            **{f: None for f in SAMPLING_FIELDS}}
    return SimpleNamespace(**{**base, **over})


def test_a_korean_summary_ask_is_parsed_with_its_line_count():
    assert parse(ASK).text == MAIL and parse(ASK).items == 3
    assert parse(f"이 글을 두 문장으로 요약해 주세요\n{MAIL}").items == 2
    assert parse(f"5줄 요약: {MAIL}").items == 5
    assert parse(f"요약해줘: {MAIL}").items == 3  # no count: three lines
    for other in ("대한민국의 수도는 어디인가요?", "요약이 뭐야?", f"번역해줘: {MAIL}",
                  "요약해줘: " + "This is an English e-mail about a meeting. " * 4):
        assert parse(other) is None, other


def test_slm_run_sends_a_korean_summary_ask_text_first_with_the_summarizer_prompt():
    defaults = {"system": "Answer briefly and factually.", "temperature": 0.0}
    req = one_request(ASK, args(), defaults)
    system, user = req.messages
    assert system.content == prompts.system("ko")
    assert user.content.startswith(f"글:\n{MAIL}")  # the text first …
    assert user.content.rstrip().endswith("한 줄로 짧게 씁니다.")  # … the task after it
    assert "3개 이하" in user.content
    assert req.sampling.temperature == 0.0  # the model's own sampling is kept
    # an explicit system prompt, raw mode and other prompts are sent as typed
    assert one_request(ASK, args(system="Be terse."), defaults).messages[1].content == ASK
    assert one_request(ASK, args(), defaults, raw=True).prompt == ASK
    plain = one_request("대한민국의 수도는 어디인가요?", args(), defaults)
    assert [m.content for m in plain.messages] == ["Answer briefly and factually.",
                                                   "대한민국의 수도는 어디인가요?"]


def test_korean_summarizer_prompts_put_the_text_first_and_ask_few_items_of_a_short_text():
    ko = prompts.direct(MAIL, "ko", "bullets", 120)
    assert ko.startswith(f"글:\n{MAIL}") and "3개 이하" in ko  # 8 sentences: 3 items, not 8
    en = prompts.direct("Kim sends the report on Friday.", "en", "bullets", 120)
    assert en.startswith("Summarize the text in at most 8 short bullet points")  # unchanged
    assert prompts.refine("요약", MAIL, "ko", "bullets", 120).rstrip().endswith("씁니다.")
    assert rewrite(ASK)[1] == prompts.direct(MAIL, "ko", "bullets", 45, 3)


def test_a_summary_that_gives_the_document_back_is_flagged():
    assert covered_share(MAIL, MAIL) == 1.0 and echoes(MAIL, MAIL)
    short = "- 신제품 기획 회의가 목요일 오후 2시로 바뀜\n- 장소는 7층 세미나실"
    assert not echoes(short, MAIL)
    echoed = summarize(from_text("mail.txt", MAIL), FakeLocal(answer=MAIL, n_ctx=2048),
                       SummaryOptions(lang="ko"))
    assert [f["kind"] for f in echoed["flags"]] == ["copied_input"]
    good = summarize(from_text("mail.txt", MAIL), FakeLocal(answer=short, n_ctx=2048),
                     SummaryOptions(lang="ko"))
    assert "copied_input" not in [f["kind"] for f in good["flags"]]
