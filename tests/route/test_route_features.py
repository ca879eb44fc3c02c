"""Prompt features that carry a request's kind and level (`route.features`): the ask of a
prompt, structure counts of a snippet, and a prompt router over them that tells question
types apart when a long passage makes the prompts look alike."""

from __future__ import annotations

import random

import numpy as np

from slmkit.route import outcomes, prompt_router
from slmkit.route.difficulty import featurizer_for
from slmkit.route.evaluate import apgr, curve
from slmkit.route.features import AskFeatures, ask, structure

PEOPLE = ["Mina", "Jun", "Omar", "Lena", "Ravi", "Sofia", "Tomas", "Aiko"]
CITIES = ["Oslo", "Lima", "Cairo", "Madrid", "Tokyo", "Dublin"]
JOBS = ["baker", "pilot", "nurse", "teacher", "farmer", "painter"]
# the small model copes with the first kind of question; only the big one with the second
ASKS = {"easy": "Where does {} live?", "gain": "Where does the {} live?"}


def passage_prompts(n: int, seed: int) -> outcomes.Outcomes:
    r = random.Random(seed)
    prompts, weak, strong = [], [], []
    for _ in range(n):
        names = r.sample(PEOPLE, 6)
        jobs = r.sample(JOBS, 6)
        text = " ".join(f"{p} is a {j} who lives in {r.choice(CITIES)}. {p} is "
                        f"{r.randint(20, 70)} years old." for p, j in zip(names, jobs))
        kind = r.choice(sorted(ASKS))
        q = ASKS[kind].format(names[1] if kind == "easy" else jobs[1])
        prompts.append(f"Read the text and answer the question.\n\n{text}\n\nQuestion: {q}")
        weak.append(kind == "easy")
        strong.append(True)
    return outcomes.Outcomes(prompts, np.array(weak), np.array(strong))


def test_ask_is_the_last_question_else_the_first_line():
    text = "Read this. Is it long?\n\nMina lives in Oslo.\n\nQuestion: Where does Mina live? Be brief."
    assert ask(text) == "Question: Where does Mina live?"
    assert ask("Summarize the report below.\n\nSales grew.") == "Summarize the report below."
    assert ask("") == ""
    assert ask("Is it? Yes.") == "Is it?" and ask("a?b.?c!?") == "a?"
    # long runs without a sentence end (a served prompt is featurized before it is
    # answered: these once took seconds) are read in one pass
    assert ask("[" * 30000 + ":") == "[" * 20000  # no question: the first line, cut
    assert ask("Where? " + "a" * 30000 + "?") == "a" * 19999 + "?"
    assert structure("[" * 30000 + ":")["slices"] == 0


def test_structure_counts_the_level_of_a_snippet():
    easy = structure("What does this print?\n```python\nx = 2\nprint(x + 3)\n```")
    hard = structure("What does this print?\n```python\ndef f(n):\n    return n * 3\n\n"
                     "xs = [1, 2, 3]\nfor i in range(3):\n    print(f(len(xs[1:])))\n```")
    assert (easy["loops"], easy["defs"], easy["slices"], easy["call_depth"]) == (0, 0, 0, 1)
    assert (hard["loops"], hard["defs"], hard["slices"], hard["call_depth"]) == (1, 1, 1, 3)
    assert hard["code_lines"] == 5 > easy["code_lines"] == 2
    assert structure("Mina and Jun met Omar in Oslo.")["names"] == 4


def test_features_are_deterministic_and_sized():
    f = featurizer_for("ask-ngrams/256")
    assert isinstance(f, AskFeatures) and f.name == "ask-ngrams/256"
    x = f.matrix(["Where does Mina live?", "Where does Mina live?", "What is 2 + 2?"])
    assert x.shape == (3, 256) and np.array_equal(x[0], x[1]) and not np.array_equal(x[0], x[2])


def test_a_router_over_the_ask_tells_question_types_apart_behind_a_long_passage(tmp_path):
    train, test = passage_prompts(160, 0), passage_prompts(80, 1)
    router = prompt_router.train(train, kind="vote", dimension=1024, features="ask-ngrams")
    score = router.scores(test.prompts)
    # 41% of the test prompts gain: a perfect router reaches 1 - 0.41 / 2 = 0.79
    assert apgr(curve(test.weak_ok, test.strong_ok, score)) >= 0.78
    # over the whole prompt's n-grams the passages make neighbours of different questions
    plain = prompt_router.train(train, kind="knn", dimension=1024, features="hashed-ngrams")
    asked = prompt_router.train(train, kind="knn", dimension=1024, features="ask-ngrams")
    assert apgr(curve(test.weak_ok, test.strong_ok, asked.scores(test.prompts))) > \
        apgr(curve(test.weak_ok, test.strong_ok, plain.scores(test.prompts))) + 0.05
    again = prompt_router.load(router.save(tmp_path / "ask.npz"))
    assert again.features == "ask-ngrams/1024"
    assert np.allclose(again.scores(test.prompts), score)
