"""Labelled multiple-choice tasks built offline for router evaluation.

``facts``: "What is the capital of X?" over countries from the very well known to the
obscure, with three other capitals as distractors.
``mixed``: both, interleaved — what a router meets: some questions the small model
answers, some only the big one, some neither.

``arithmetic``: integer questions in five difficulty levels (one-digit addition up to
three-digit by two-digit multiplication), four choices each, with near-miss distractors
(off by one, by ten, a swapped digit). Seeded, so every run builds the same set; the level
is recorded but never shown to the router.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

LEVELS = (
    ("add", 1, 1), ("add", 2, 2), ("sub", 3, 2), ("mul", 2, 1), ("mul", 2, 2),
)


def _operand(r: random.Random, digits: int) -> int:
    return r.randint(10 ** (digits - 1) if digits > 1 else 1, 10 ** digits - 1)


def _distractors(r: random.Random, answer: int) -> list[int]:
    pool = {answer + d for d in (-1, 1, -10, 10, -2, 2, 100, -100)}
    s = str(abs(answer))
    if len(s) >= 2:
        swapped = int(s[:-2] + s[-1] + s[-2]) * (1 if answer >= 0 else -1)
        pool.add(swapped)
    pool.discard(answer)
    return r.sample(sorted(pool), 3)


def arithmetic(n: int, seed: int = 0) -> list[dict]:
    r = random.Random(seed)
    out = []
    for i in range(n):
        op, da, db = LEVELS[i % len(LEVELS)]
        a, b = _operand(r, da), _operand(r, db)
        answer, sign = {"add": (a + b, "+"), "sub": (a - b, "-"), "mul": (a * b, "×")}[op]
        choices = _distractors(r, answer) + [answer]
        r.shuffle(choices)
        out.append({"question": f"What is {a} {sign} {b}?", "choices": [str(c) for c in choices],
                    "answer": choices.index(answer), "subject": "arithmetic",
                    "level": i % len(LEVELS) + 1})
    r.shuffle(out)
    return out


def write_jsonl(rows: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in rows), encoding="utf-8")
    return path


CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid",
    "Japan": "Tokyo", "China": "Beijing", "Russia": "Moscow", "United Kingdom": "London",
    "Egypt": "Cairo", "Greece": "Athens", "Portugal": "Lisbon", "Austria": "Vienna",
    "Ireland": "Dublin", "Norway": "Oslo", "Sweden": "Stockholm", "Finland": "Helsinki",
    "Denmark": "Copenhagen", "Poland": "Warsaw", "Hungary": "Budapest", "Canada": "Ottawa",
    "Australia": "Canberra", "Brazil": "Brasília", "Argentina": "Buenos Aires",
    "Mexico": "Mexico City", "India": "New Delhi", "South Korea": "Seoul",
    "Thailand": "Bangkok", "Vietnam": "Hanoi", "Indonesia": "Jakarta", "Turkey": "Ankara",
    "Iran": "Tehran", "Iraq": "Baghdad", "Kenya": "Nairobi", "Nigeria": "Abuja",
    "Peru": "Lima", "Chile": "Santiago", "Colombia": "Bogotá", "Cuba": "Havana",
    "Belgium": "Brussels", "Netherlands": "Amsterdam", "Switzerland": "Bern",
    "Czech Republic": "Prague", "Romania": "Bucharest", "Bulgaria": "Sofia",
    "Serbia": "Belgrade", "Croatia": "Zagreb", "Ukraine": "Kyiv", "Belarus": "Minsk",
    "Kazakhstan": "Astana", "Mongolia": "Ulaanbaatar", "Nepal": "Kathmandu",
    "Bangladesh": "Dhaka", "Pakistan": "Islamabad", "Afghanistan": "Kabul",
    "Saudi Arabia": "Riyadh", "Ethiopia": "Addis Ababa", "Ghana": "Accra",
    "Morocco": "Rabat", "Algeria": "Algiers", "Tunisia": "Tunis", "Senegal": "Dakar",
    "New Zealand": "Wellington", "Philippines": "Manila", "Malaysia": "Kuala Lumpur",
    "Venezuela": "Caracas", "Bolivia": "Sucre", "Uruguay": "Montevideo",
    "Paraguay": "Asunción", "Ecuador": "Quito", "Iceland": "Reykjavik", "Latvia": "Riga",
    "Lithuania": "Vilnius", "Estonia": "Tallinn", "Slovakia": "Bratislava",
    "Slovenia": "Ljubljana", "Albania": "Tirana", "Georgia": "Tbilisi",
    "Armenia": "Yerevan", "Azerbaijan": "Baku", "Uzbekistan": "Tashkent",
    "Kyrgyzstan": "Bishkek", "Tajikistan": "Dushanbe", "Laos": "Vientiane",
    "Cambodia": "Phnom Penh", "Myanmar": "Naypyidaw", "Sri Lanka": "Sri Jayawardenepura Kotte",
    "Madagascar": "Antananarivo", "Mozambique": "Maputo", "Zambia": "Lusaka",
    "Zimbabwe": "Harare", "Uganda": "Kampala", "Tanzania": "Dodoma", "Rwanda": "Kigali",
    "Mali": "Bamako", "Niger": "Niamey", "Chad": "N'Djamena", "Sudan": "Khartoum",
    "Libya": "Tripoli", "Jordan": "Amman", "Lebanon": "Beirut", "Syria": "Damascus",
    "Oman": "Muscat", "Yemen": "Sanaa", "Qatar": "Doha", "Bhutan": "Thimphu",
}


def facts(n: int | None = None, seed: int = 0) -> list[dict]:
    r = random.Random(seed)
    countries = sorted(CAPITALS)
    r.shuffle(countries)
    out = []
    for country in countries[:n]:
        answer = CAPITALS[country]
        choices = r.sample([c for c in CAPITALS.values() if c != answer], 3) + [answer]
        r.shuffle(choices)
        out.append({"question": f"What is the capital of {country}?", "choices": choices,
                    "answer": choices.index(answer), "subject": "geography"})
    return out


def mixed(n: int, seed: int = 0) -> list[dict]:
    """Up to all capitals questions, the rest arithmetic, interleaved (seeded)."""
    geo = facts(min(len(CAPITALS), n // 2), seed)
    rows = geo + arithmetic(n - len(geo), seed)
    random.Random(seed + 1).shuffle(rows)
    return rows


TASKS = {"arithmetic": arithmetic, "facts": lambda n, seed=0: facts(n, seed), "mixed": mixed}


def choice_set(data: str, fmt: str, *, limit: int | None = None, seed: int = 0):
    """(the dataset, its router-evaluation items in format ``fmt``) for ``data``: a name in
    :data:`TASKS` or `route.sets.SETS` (built offline, seeded, written next to the
    datasets) or a choice set
    ``slmkit.evaluate.datasets`` resolves (a catalog name or a JSONL file)."""
    from slmkit.evaluate import datasets
    from slmkit.evaluate.choice import build_prompt
    from slmkit.route.evaluate import choice_items

    from slmkit.route import sets

    if data in TASKS or data in sets.SETS:
        rows = sets.rows(data, limit or 200, seed, mmlu=lambda: datasets.load_choices(
            datasets.resolve("mmlu", kind="choice")))
        path = datasets.data_root() / "route" / f"{data}-{len(rows)}-{seed}.jsonl"
        data = str(write_jsonl(rows, path))
    ds = datasets.resolve(data, kind="choice")
    return ds, choice_items(datasets.load_choices(ds)[:limit], fmt,
                            letter_prompt=lambda c: build_prompt(c, [], "letter"))
