"""More offline router sets, beyond capitals and arithmetic, in the rows `route.tasks`
writes (``question``, ``choices``, ``answer``, ``subject``, ``level``), seeded:

``code``: what a short Python snippet prints (arithmetic, slicing, loops, functions).
``reading``: a short generated passage about people, then a question about it (a fact
stated once, a comparison, a difference).
``wordproblems``: multi-step word problems (one to four steps).
``korean``: Korean questions — arithmetic in words, capitals by their Korean names,
word problems and reading comprehension, all in Korean.
``mmlu_chat``: the MMLU subset (evals' sandbagging samples, 1000 questions) with its
lettered choices shown, answered freely through the chat template and graded by the
letter it starts with.

Every answer is computed while the question is built (no code is run); the level is
recorded but never shown to a router. Generated questions test the router on kinds of
request it was not written against; they are not a benchmark of the models.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

NAMES = ("Mina", "Jun", "Omar", "Lena", "Ravi", "Sofia", "Tomas", "Aiko", "Pedro", "Nadia",
         "Ivan", "Grace", "Hugo", "Leila", "Kofi", "Elsa")
CITIES = ("Oslo", "Lima", "Cairo", "Madrid", "Tokyo", "Dublin", "Lisbon", "Vienna", "Quito",
          "Dakar", "Hanoi", "Riga", "Sofia", "Tunis", "Accra", "Bern")
JOBS = ("baker", "pilot", "nurse", "teacher", "farmer", "painter", "dentist", "chef",
        "lawyer", "tailor")
PETS = ("cat", "dog", "parrot", "rabbit", "turtle", "goldfish")
WORDS = ("apple", "river", "python", "garden", "silver", "planet", "window", "yellow",
         "orange", "marble", "kitten", "rocket")


def _num_choices(r: random.Random, answer: int) -> tuple[list[str], int]:
    pool = sorted({answer + d for d in (-2, -1, 1, 2, 10, -10)} - {answer})
    choices = r.sample(pool, 3) + [answer]
    r.shuffle(choices)
    return [str(c) for c in choices], choices.index(answer)


def _word_choices(r: random.Random, answer: str, pool) -> tuple[list[str], int]:
    others = r.sample([w for w in pool if w != answer], 3)
    choices = others + [answer]
    r.shuffle(choices)
    return choices, choices.index(answer)


def _row(r: random.Random, question: str, answer, subject: str, level: int,
         pool=None) -> dict:
    if isinstance(answer, int):
        choices, idx = _num_choices(r, answer)
    else:
        choices, idx = _word_choices(r, answer, pool)
    return {"question": question, "choices": choices, "answer": idx, "subject": subject,
            "level": level}


def _code_snippet(r: random.Random, level: int) -> tuple[str, int | str, list]:
    """(code, printed value, a pool of wrong string answers) for one level 1..5."""
    a, b, c = r.randint(2, 19), r.randint(2, 19), r.randint(2, 9)
    w = r.choice(WORDS)
    if level == 1:
        return f"x = {a}\ny = {b}\nprint(x + y)", a + b, []
    if level == 2:
        i, j = sorted(r.sample(range(len(w) + 1), 2))
        if j - i < 2:
            return f'print(len("{w}"))', len(w), []
        return f's = "{w}"\nprint(s[{i}:{j}])', w[i:j], [w[i:j + 1], w[i + 1:j], w, w[:j]]
    if level == 3:
        return (f"total = 0\nfor i in range({c}):\n    total += i * {b % 4 + 1}\nprint(total)",
                sum(i * (b % 4 + 1) for i in range(c)), [])
    if level == 4:
        xs = r.sample(range(1, 30), 5)
        return (f"xs = {xs}\nprint(sum(x for x in xs if x % 2 == 0))",
                sum(x for x in xs if x % 2 == 0), [])

    def f(n: int) -> int:
        return n * 3 if n % 2 else n // 2
    return (f"def f(n):\n    return n * 3 if n % 2 else n // 2\n\nprint(f(f({a})))",
            f(f(a)), [])


def code(n: int, seed: int = 0) -> list[dict]:
    """Code output prediction, five levels."""
    r = random.Random(seed)
    out = []
    for i in range(n):
        level = i % 5 + 1
        snippet, value, pool = _code_snippet(r, level)
        q = f"What does this Python code print?\n```python\n{snippet}\n```"
        if isinstance(value, str):
            pool = [p for p in dict.fromkeys(pool + list(WORDS)) if p and p != value]
        out.append(_row(r, q, value, "code", level, pool))
    r.shuffle(out)
    return out


def _people(r: random.Random, k: int) -> list[dict]:
    names = r.sample(NAMES, k)
    return [{"name": nm, "city": r.choice(CITIES), "job": j, "age": r.randint(19, 70),
             "pet": r.choice(PETS)} for nm, j in zip(names, r.sample(JOBS, k))]


def _passage(people: list[dict]) -> str:
    return " ".join(f"{p['name']} is a {p['job']} who lives in {p['city']}. "
                    f"{p['name']} is {p['age']} years old and has a {p['pet']}."
                    for p in people)


def reading(n: int, seed: int = 0) -> list[dict]:
    """Reading comprehension over generated passages, four levels."""
    r = random.Random(seed)
    out = []
    for i in range(n):
        level = i % 4 + 1
        ppl = _people(r, 2 + level // 2)
        p, q = ppl[0], ppl[1]
        if q["age"] == p["age"]:
            q["age"] += 3
        if level == 1:
            ask, ans, pool = f"Where does {p['name']} live?", p["city"], CITIES
        elif level == 2:
            ask, ans, pool = f"What is {q['name']}'s job?", q["job"], JOBS
        elif level == 3:
            older = p if p["age"] > q["age"] else q
            ask, ans, pool = (f"Who is older, {p['name']} or {q['name']}?", older["name"],
                              NAMES)
        else:
            ask, ans, pool = (f"In which city does the {q['job']} live?", q["city"], CITIES)
        text = f"Read the text and answer the question.\n\n{_passage(ppl)}\n\nQuestion: {ask}"
        out.append(_row(r, text, ans, "reading", level, pool))
    r.shuffle(out)
    return out


def _problem(r: random.Random, steps: int) -> tuple[str, int]:
    name, item = r.choice(NAMES), r.choice(("apples", "pencils", "stickers", "marbles"))
    have = r.randint(5, 40)
    text = [f"{name} has {have} {item}."]
    for _ in range(steps):
        kind = r.choice(("buy", "give", "boxes"))
        if kind == "buy":
            k = r.randint(2, 20)
            text.append(f"Then {name} buys {k} more.")
            have += k
        elif kind == "give" and have > 2:
            k = r.randint(1, have - 1)
            text.append(f"Then {name} gives {k} away.")
            have -= k
        else:
            boxes, per = r.randint(2, 6), r.randint(3, 12)
            text.append(f"Then {name} gets {boxes} boxes with {per} {item} in each.")
            have += boxes * per
    text.append(f"How many {item} does {name} have now?")
    return " ".join(text), have


def wordproblems(n: int, seed: int = 0) -> list[dict]:
    """Multi-step word problems, one to four steps."""
    r = random.Random(seed)
    out = []
    for i in range(n):
        steps = i % 4 + 1
        text, ans = _problem(r, steps)
        out.append(_row(r, text, ans, "word problems", steps))
    r.shuffle(out)
    return out


KO_CAPITALS = {
    "프랑스": "파리", "독일": "베를린", "이탈리아": "로마", "스페인": "마드리드", "일본": "도쿄",
    "중국": "베이징", "러시아": "모스크바", "영국": "런던", "이집트": "카이로", "그리스": "아테네",
    "포르투갈": "리스본", "오스트리아": "빈", "노르웨이": "오슬로", "스웨덴": "스톡홀름",
    "핀란드": "헬싱키", "덴마크": "코펜하겐", "폴란드": "바르샤바", "헝가리": "부다페스트",
    "캐나다": "오타와", "호주": "캔버라", "태국": "방콕", "베트남": "하노이",
    "인도네시아": "자카르타", "튀르키예": "앙카라", "이란": "테헤란", "케냐": "나이로비",
    "페루": "리마", "칠레": "산티아고", "쿠바": "아바나", "벨기에": "브뤼셀", "체코": "프라하",
    "루마니아": "부쿠레슈티", "불가리아": "소피아", "몽골": "울란바토르", "네팔": "카트만두",
    "필리핀": "마닐라", "말레이시아": "쿠알라룸푸르", "아이슬란드": "레이캬비크",
    "라트비아": "리가", "에티오피아": "아디스아바바", "우즈베키스탄": "타슈켄트",
    "캄보디아": "프놈펜", "미얀마": "네피도", "모로코": "라바트", "세네갈": "다카르",
}
KO_NAMES = ("민수", "지영", "서준", "하은", "도윤", "수아", "예준", "지아")
KO_CITIES = ("서울", "부산", "대구", "인천", "광주", "대전", "울산", "제주")
KO_JOBS = ("교사", "의사", "요리사", "화가", "농부", "간호사", "경찰관", "기자")


def _topic(word: str) -> str:
    """``word`` with its topic particle: 은 after a final consonant, else 는."""
    return word + ("은" if (ord(word[-1]) - 0xAC00) % 28 else "는")


def _ko_arith(r: random.Random, level: int) -> tuple[str, int]:
    a, b = r.randint(2, 10 ** (1 + level // 2)), r.randint(2, 10 ** (1 + level // 3))
    if level % 2:
        return f"{a} 더하기 {b}의 값은 얼마입니까?", a + b
    return f"{a} 곱하기 {b % 12 + 2}의 값은 얼마입니까?", a * (b % 12 + 2)


def _ko_problem(r: random.Random) -> tuple[str, int]:
    name, have = r.choice(KO_NAMES), r.randint(10, 40)
    buy, eat = r.randint(2, 15), r.randint(1, 9)
    return (f"{_topic(name)} 사과 {have}개를 가지고 있었습니다. 시장에서 {buy}개를 더 사고 "
            f"{eat}개를 먹었습니다. 남은 사과는 몇 개입니까?", have + buy - eat)


def _ko_reading(r: random.Random) -> tuple[str, str, tuple]:
    a, b = r.sample(KO_NAMES, 2)
    ca, cb = r.sample(KO_CITIES, 2)
    ja, jb = r.sample(KO_JOBS, 2)
    text = f"{_topic(a)} {ca}에 사는 {ja}입니다. {_topic(b)} {cb}에 사는 {jb}입니다."
    if r.random() < 0.5:
        return f"다음 글을 읽고 질문에 답하세요.\n\n{text}\n\n질문: {_topic(b)} 어디에 삽니까?", cb, \
            KO_CITIES
    return f"다음 글을 읽고 질문에 답하세요.\n\n{text}\n\n질문: {a}의 직업은 무엇입니까?", ja, \
        KO_JOBS


def korean(n: int, seed: int = 0) -> list[dict]:
    """Korean: arithmetic in words, capitals, word problems, reading (four kinds)."""
    r = random.Random(seed)
    countries = sorted(KO_CAPITALS)
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            q, ans = _ko_arith(r, i // 4 % 4 + 1)
            out.append(_row(r, q, ans, "korean arithmetic", 1))
        elif kind == 1:
            c = countries[i // 4 % len(countries)]
            out.append(_row(r, f"{c}의 수도는 어디입니까?", KO_CAPITALS[c], "korean capitals",
                            2, list(KO_CAPITALS.values())))
        elif kind == 2:
            q, ans = _ko_problem(r)
            out.append(_row(r, q, ans, "korean word problems", 3))
        else:
            q, ans, pool = _ko_reading(r)
            out.append(_row(r, q, ans, "korean reading", 4, pool))
    r.shuffle(out)
    return out


def mmlu_chat(n: int, seed: int = 0, *, choices: Sequence | None = None) -> list[dict]:
    """The MMLU subset with its choices shown; the row's choices are the letters, so a
    free answer is graded by the letter it gives. ``choices``: the multiple-choice
    questions (``question``, ``choices``, ``answer``, ``subject``), e.g. the ``mmlu``
    dataset of `slmkit.evaluate.datasets` (fetched once from the evals wheel)."""
    if choices is None:
        raise ValueError("mmlu_chat needs the MMLU questions: pass choices= (e.g. "
                         "datasets.load_choices(datasets.resolve('mmlu')))")
    r = random.Random(seed)
    picked = r.sample(list(choices), min(n, len(choices)))
    out = []
    for c in picked:
        lines = [c.question] + [f"{'ABCD'[i]}. {t}" for i, t in enumerate(c.choices)]
        q = "\n".join(lines) + "\n\nReply with the letter of the correct choice."
        out.append({"question": q, "choices": list("ABCD"[:len(c.choices)]),
                    "answer": c.answer, "subject": c.subject or "mmlu", "level": 0})
    return out


SETS = {"code": code, "reading": reading, "wordproblems": wordproblems, "korean": korean,
        "mmlu_chat": mmlu_chat}


def rows(name: str, n: int, seed: int = 0, *, mmlu: Callable[[], Sequence] | None = None
         ) -> list[dict]:
    """Rows of the set ``name``: one of :data:`SETS` or `route.tasks.TASKS`; ``mmlu``
    loads the MMLU questions for ``mmlu_chat`` (only called for it)."""
    from slmkit.route import tasks

    if name == "mmlu_chat":
        return mmlu_chat(n, seed, choices=mmlu() if mmlu else None)
    make = SETS.get(name) or tasks.TASKS.get(name)
    if make is None:
        raise ValueError(f"unknown router set {name!r}: choose from "
                         f"{', '.join(sorted(SETS) + sorted(tasks.TASKS))}")
    return make(n, seed)
