"""Korean personal names in context (issue 14): 홍길동 과장, 김철수 010-1234-5678, a
signature block, "제 이름은 홍길동입니다", "Name: 김철수".

A Korean name is a surname syllable (the common surnames, see ``names.KR_SURNAMES``) and
one or two more syllables; alone it is indistinguishable from an ordinary word (김치,
이번, 정말), so every recognizer here also needs context: a job title or honorific right
after it, a phone number next to it, a line of its own in a signature, or an introducing
phrase. Common words that start with a surname syllable are rejected (``NOT_NAMES``).
Measured by ``benchmarks/guard.py --korean-names`` on tests/guard/data/korean_names.jsonl.
"""

from __future__ import annotations

import re

from slmkit.guard.base import PERSON, Recognizer
from slmkit.guard.names import KR_SURNAMES

_NAME = r"[" + KR_SURNAMES + r"][가-힣]{1,2}"
_FULL = r"[" + KR_SURNAMES + r"][가-힣]{2}"  # three syllables: where context is weaker
# job titles and honorifics that follow a name ("홍길동 과장", "김철수 대표님")
_TITLES = (r"(?:대표이사|대표|사장|부사장|회장|부회장|전무|상무|이사|본부장|센터장|실장|"
           r"부장|차장|과장|대리|주임|사원|팀장|파트장|매니저|선임|책임|수석|연구원|"
           r"교수|박사|선생|원장|소장|총장|국장|기자|변호사|세무사|회계사|의사|간호사|"
           r"작가|감독|위원|의원|장관|씨|님|군|양)")
# what may follow a title: 님, a particle, punctuation or the end — not more Hangul
# ("정기 이사회" is a board meeting, not 정기 the director)
_AFTER_TITLE = (r"(?=님|께|께서|에게|이|가|은|는|을|를|의|과|와|도|로|으로|이며|이고|입니다|"
                r"$|[^가-힣])")
_PHONE = r"(?:\+82[ -]?|0)(?:1[016789]|2|[3-6][1-5])[ .)-]?\d{3,4}[ .-]?\d{4}"
_CLOSINGS = r"(?:감사합니다|고맙습니다|드림|올림|배상|수고하세요|바랍니다|부탁드립니다|Regards|Thanks)"

# Words that start with a surname syllable and meet one of the contexts above.
NOT_NAMES = frozenset("""
고객 고객님 사장 선생 교수 회원 여러분 손님 부모 이사 원장 주인 기사 신임 전임 후임 정식 임시
이번 이전 이후 이날 현재 현직 전직 전체 전원 전국 담당 해당 우리 기존 최고 최근 최종 지난 차기
공동 공식 공개 정규 정기 정말 정도 정보 정부 정책 조직 조사 조합 조금 대표 부서 부장 차장 과장
주요 주간 주식 주최 강사 강의 한국 한번 한편 한명 전화 전화번호 연락 연락처 연구 연구원 문의
문의처 상담 안내 안내원 관리 관리자 관계자 관련 국내 국장 남자 여자 여성 남성 노동 노조
도움 방문 방금 백화점 변경 송부 송금 신규 신청 신청자 오늘 오전 오후 유지 유선 윤리 장기
장소 서울 서비스 석사 설명 성함 성명 소속 소장 손해 양측 어제 엄마 원격 위원 위원회 유관
육아 인사 인사팀 임원 임직원 전문 전문가 정직원 지원 지원자 지점 진행 채용 천만 하루 하나
함께 허가 홍보 황금 구매 구입 권한 금일 금액 기술 기타 길이 나중 남은 마감 명의 모든 민원
박사 반장 방송 배송 백만 변호사 봉사 사원 사무 상무 서류 선배 선임 설계 성과 소비자 손실
송장 수석 신입 신입사원 심사 안전 양식 어른 엄격 연봉 염려 예약 예정 오랜 왕복 용역 우선
운영 원래 원본 유통 은행 이름 이상 이하 이용 이용자 인원 인턴 임대 임금 장비 장애 전달 전략
전산 전산팀 점검 정산 제품 제출 조건 조기 조정 주문 주소 증명 지급 지역 지정 진단 차량
채널 책임 천천히 최대 최소 추가 추천 탁송 편집 표준 하청 하반기 한도 함께 현장 현지
홍길동전 황당 회의 회장 회사 회계 국민 국회 기자 감독 작가 경영 경리 경찰 공무원 공장 구청
시장 시청 시민 신문 신뢰 심의 안과 양해 업무 염색 예산 옥상 왕실 우편 원장님 유학 은퇴 인근
장관 전무 전문의 제작 제휴 조교 조원 주임 주민 진료 차관 총장 편의 하자 학생 한의사
""".split())

TITLE_RE = re.compile(r"(?<![가-힣])(?P<v>" + _NAME + r")[ \t]?" + _TITLES + _AFTER_TITLE)
PHONE_AFTER_RE = re.compile(r"(?<![가-힣])(?P<v>" + _FULL + r")(?![가-힣])[ \t]*[(:/,]?[ \t]*"
                            + _PHONE)
PHONE_BEFORE_RE = re.compile(_PHONE + r"[ \t]*[)/,]?[ \t]*[(]?[ \t]*(?P<v>" + _FULL
                             + r")(?![가-힣])")
CLOSING_NAME_RE = re.compile(r"(?<![가-힣])(?P<v>" + _NAME + r")[ \t]?(?:드림|올림|배상)(?![가-힣])")
SIGNATURE_RE = re.compile(r"(?m)^[ \t\-–—]*(?P<v>" + _FULL + r")(?:[ \t]+" + _TITLES
                          + r")?[ \t\-–—]*$")
INTRO_RE = re.compile(r"(?:제 이름은|내 이름은|이름은|저는|나는)[ \t]*(?P<v>" + _NAME
                      + r")(?:입니다|이에요|예요|이라고|라고|이고|[ \t]*[.,!]|$)")
LATIN_LABEL_RE = re.compile(r"(?i:(?<![A-Za-z])(?:full[ _]name|name|contact|attn|signed by|"
                            r"assigned to|customer|patient))[ \t]*[:=][ \t]*(?P<v>" + _NAME
                            + r")(?![가-힣])")
_CLOSING_BEFORE = re.compile(_CLOSINGS + r"[ \t.!]*\n[ \t\n\-–—]*$")
_CONTACT_AFTER = re.compile(_PHONE + r"|@|팀|부|실|센터|주식회사|\(주\)|Tel|tel|전화|휴대폰")


def _plain(text: str, m: re.Match[str]) -> float | None:
    """Reject common words (or a common word plus a particle-like last syllable)."""
    v = m.group("v")
    if v in NOT_NAMES or v[:2] in NOT_NAMES and len(v) == 3 and v[2] in "은는이가을를의도만":
        return None
    return 0.85


def _signature(text: str, m: re.Match[str]) -> float | None:
    """A line that is only a name counts in a signature: right after a closing line, or
    right before a line with contact details."""
    if _plain(text, m) is None:
        return None
    if _CLOSING_BEFORE.search(text, max(0, m.start() - 40), m.start()):
        return 0.8
    after = text[m.end():m.end() + 80].lstrip("\n").split("\n", 1)[0]
    return 0.8 if _CONTACT_AFTER.search(after) else None


RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer("person_kr_title", PERSON, TITLE_RE, _plain),
    Recognizer("person_kr_phone", PERSON, PHONE_AFTER_RE, _plain),
    Recognizer("person_kr_phone_before", PERSON, PHONE_BEFORE_RE, _plain),
    Recognizer("person_kr_closing", PERSON, CLOSING_NAME_RE, _plain),
    Recognizer("person_kr_signature", PERSON, SIGNATURE_RE, _signature),
    Recognizer("person_kr_intro", PERSON, INTRO_RE, _plain),
    Recognizer("person_kr_latin_label", PERSON, LATIN_LABEL_RE, _plain),
)
