"""Checklists: the fields a review extracts, each with a question and the words that find
its clause (English and Korean). Built in: ``contract``, ``nda``, ``employment``; a custom
one is a YAML file ``{fields: [{name, question, keywords: [...]}]}``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Field:
    name: str
    question: str
    keywords: tuple[str, ...] = field(default_factory=tuple)


def _f(name: str, question: str, keywords: str) -> Field:
    return Field(name, question, tuple(keywords.split("|")))


COMMON = [
    _f("parties", "Who are the parties to the agreement?",
       "between|party|parties|갑|을|당사자|사이"),
    _f("effective_date", "On what date does the agreement take effect?",
       "effective|commence|dated|as of|효력|발생|시행|체결일"),
    _f("governing_law", "Which law governs the agreement?",
       "governed|governing law|laws of|준거법|법률에 따라|대한민국 법"),
]
CONTRACT = COMMON + [
    _f("term", "How long does the agreement last (its term)?",
       "term|period of|years|months|기간|유효기간|개월|년간"),
    _f("renewal", "Does the agreement renew automatically, and for how long?",
       "renew|renewal|extended|자동|연장|갱신"),
    _f("termination_notice", "How much notice is needed to terminate the agreement?",
       "terminate|termination|notice|해지|통지|해제"),
    _f("liability_cap", "What is the maximum amount of liability (liability cap)?",
       "liability|liable|exceed|aggregate|배상|책임|한도|초과"),
    _f("payment_terms", "What are the payment terms (amount and when payment is due)?",
       "pay|payment|invoice|fee|days|지급|대금|청구|원"),
    _f("confidentiality_period", "How long do the confidentiality obligations last?",
       "confidential|confidentiality|비밀|기밀|유지"),
]
NDA = COMMON + [
    _f("confidentiality_period", "How long do the confidentiality obligations last?",
       "confidential|confidentiality|survive|비밀|기밀|유지|존속"),
    _f("term", "How long does the agreement last (its term)?",
       "term|period|years|기간|유효기간"),
    _f("permitted_use", "For what purpose may the confidential information be used?",
       "purpose|use|solely|목적|사용"),
    _f("return_of_information", "What happens to confidential information when the agreement "
       "ends?", "return|destroy|반환|파기"),
]
EMPLOYMENT = COMMON + [
    _f("position", "What is the employee's position or job title?",
       "position|title|employed as|role|직위|직무|담당"),
    _f("salary", "What is the salary or wage?", "salary|wage|compensation|per year|연봉|급여|임금|월"),
    _f("working_hours", "What are the working hours?", "hours|working|근로시간|근무시간|시간"),
    _f("probation", "How long is the probation period?", "probation|trial|수습|시용"),
    _f("termination_notice", "How much notice is needed to end the employment?",
       "terminate|termination|notice|resign|해지|해고|통지|퇴직"),
    _f("non_compete", "Is there a non-compete obligation, and how long does it last?",
       "compete|competing|non-compete|경업|경쟁"),
]
BUILTIN = {"contract": CONTRACT, "nda": NDA, "employment": EMPLOYMENT}


def load_checklist(name: str) -> list[Field]:
    """A built-in checklist by name, or a YAML file's fields."""
    if name in BUILTIN:
        return list(BUILTIN[name])
    path = Path(name)
    if not path.suffix.lower() in (".yaml", ".yml", ".json") or not path.is_file():
        raise ValueError(f"checklist: one of {', '.join(BUILTIN)} or a .yaml file, got {name!r}")
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    fields = data.get("fields") if isinstance(data, dict) else None
    if not isinstance(fields, list) or not fields:
        raise ValueError(f"{name}: expected 'fields:' with a list of {{name, question, keywords}}")
    out = []
    for i, f in enumerate(fields):
        if not isinstance(f, dict) or not f.get("name") or not f.get("question"):
            raise ValueError(f"{name}: fields[{i}] needs a name and a question")
        out.append(Field(str(f["name"]), str(f["question"]),
                         tuple(str(k) for k in f.get("keywords") or ())))
    return out
