"""JSON schema → GBNF grammar, with bounds so that a request cannot make it huge.

llama-cpp-python's converter spells a repetition out (``maxLength: N`` becomes N nested
optional groups, built as a Python list), so ``maxLength: 2**31`` would take gigabytes
before llama.cpp ever sees the grammar. The schema is walked first: repetition counts
(``minLength``/``maxLength``/``minItems``/``maxItems``/``min|maxProperties``/
``min|maxContains`` and ``{m,n}`` quantifiers in ``pattern``) above ``MAX_REPEAT``,
nesting deeper than ``MAX_DEPTH`` and compiled grammars over ``MAX_GRAMMAR_BYTES`` are
refused with a :class:`GrammarError` (a ``ValueError``: HTTP 400) that names the place.
"""

from __future__ import annotations

import json
import re

MAX_REPEAT = 1000  # llama.cpp itself refuses nesting of a few thousand
MAX_DEPTH = 64
MAX_GRAMMAR_BYTES = 256 * 1024
COUNT_KEYS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties",
              "maxProperties", "minContains", "maxContains")
_NOT_SCHEMAS = frozenset({"enum", "const", "default", "examples", "description", "title"})
_QUANTIFIER = re.compile(r"\{\s*(\d*)\s*(?:,\s*(\d*)\s*)?\}")


class GrammarError(ValueError):
    """A GBNF grammar llama.cpp refused to parse, or a JSON schema it cannot express."""


def check_schema(schema, path: str = "$", depth: int = 0) -> None:
    """Raise :class:`GrammarError` where ``schema`` exceeds the bounds above."""
    if depth > MAX_DEPTH:
        raise GrammarError(f"JSON schema nests deeper than {MAX_DEPTH} levels at {path}")
    if isinstance(schema, list):
        for i, item in enumerate(schema):
            check_schema(item, f"{path}[{i}]", depth + 1)
        return
    if not isinstance(schema, dict):
        return
    for key in COUNT_KEYS:
        if key in schema:
            _check_count(schema[key], f"{path}.{key}")
    if isinstance(schema.get("pattern"), str):
        _check_pattern(schema["pattern"], f"{path}.pattern")
    for key, value in schema.items():
        if key not in _NOT_SCHEMAS and isinstance(value, (dict, list)):
            check_schema(value, f"{path}.{key}", depth + 1)


def _check_count(value, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise GrammarError(f"JSON schema {where} must be a non-negative integer, got {value!r}")
    if value > MAX_REPEAT:
        raise GrammarError(f"JSON schema {where} is {value:,}; at most {MAX_REPEAT:,} is "
                           "supported (each repetition becomes part of the grammar)")


def _check_pattern(pattern: str, where: str) -> None:
    for m in _QUANTIFIER.finditer(pattern):
        for number in m.groups():
            if number and int(number) > MAX_REPEAT:
                raise GrammarError(f"JSON schema {where} repeats {int(number):,} times; at "
                                   f"most {MAX_REPEAT:,} is supported")


def check_size(grammar: str) -> str:
    """``grammar`` if it is at most ``MAX_GRAMMAR_BYTES``, else a :class:`GrammarError`."""
    size = len(grammar.encode())
    if size > MAX_GRAMMAR_BYTES:
        raise GrammarError(f"the grammar is {size:,} bytes; at most {MAX_GRAMMAR_BYTES:,} are "
                           "accepted (simplify the JSON schema: fewer properties or lower "
                           "maxLength/maxItems)")
    return grammar


def schema_to_gbnf(schema: dict) -> str:
    """The bounded GBNF grammar for a JSON schema (``{}`` = any JSON object)."""
    schema = schema or {"type": "object"}
    check_schema(schema)
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        grammar = json_schema_to_gbnf(json.dumps(schema))
    except Exception as err:  # the converter raises bare Exceptions/KeyErrors on bad schemas
        raise GrammarError(f"unsupported JSON schema: {err}") from err
    return check_size(grammar.replace(_LOOSE_CHAR, _JSON_CHAR))


# llama-cpp-python's converter lets a string hold raw control characters (a newline, a tab),
# which JSON forbids; llama.cpp's own converter excludes them, as here.
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_JSON_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


# JSON whitespace as models write it ("{\n  \"name\"": …): the converter's own rule allows
# one space only. The trigger patterns below allow exactly the same.
_WS_RULE = 'space ::= | " " | "\\n" [ \\t]{0,20}'
_WS_RE = r"(?: |\n[ \t]{0,20})?"


def tool_calls_gbnf(constraint) -> str:
    """The grammar of ``constraint`` (a ``core.ToolCallConstraint``): calls wrapped in
    ``open`` … ``close`` (one, or several separated by whitespace), or one bare JSON call.

    With a lazy constraint llama.cpp replays the text written before the trigger through
    this grammar, and a replay it rejects aborts the process: so the grammar accepts
    whatever the trigger patterns let through (the whitespace above, and a call whose
    ``arguments`` are left out, read as ``{}``)."""
    calls = schema_to_gbnf(_arguments_optional(constraint.call_schema))
    calls = re.sub(r"^root ::=", "tool-call ::=", calls, count=1, flags=re.MULTILINE)
    calls = re.sub(r"^space ::= .*$", lambda _: _WS_RULE, calls, count=1, flags=re.MULTILINE)
    more = "(tool-ws tool-block)*" if constraint.parallel else ""
    # several calls come as <tool_call> blocks; a bare call ends the answer (small models
    # otherwise write the same bare call again and again)
    rules = [f"root ::= tool-block {more} | tool-call",
             f"tool-block ::= {_literal(constraint.open)} tool-ws tool-call tool-ws "
             f"{_literal(constraint.close)}",
             "tool-ws ::= [ \\t\\n]{0,4}", calls]
    return check_size("\n".join(rules))


def _arguments_optional(schema: dict) -> dict:
    if "anyOf" in schema:
        return dict(schema, anyOf=[_arguments_optional(s) for s in schema["anyOf"]])
    return dict(schema, required=["name"])


def tool_call_triggers(constraint) -> tuple[str, ...]:
    """Regular expressions (llama.cpp's lazy-grammar trigger patterns, matched against the
    whole output so far) that start the grammar at their first group: ``open``, or a bare
    call to one of the functions at a line start, up to the end of its name."""
    names = "|".join(_re_escape(json.dumps(n)) for n in constraint.names)
    ws = _WS_RE
    return (f"^[\\s\\S]*?({_re_escape(constraint.open)})[\\s\\S]*$",
            f"^(?:[\\s\\S]*\\n)?[ \\t]*(\\{{{ws}\"name\"{ws}:{ws}(?:{names}))[\\s\\S]*$")


def _re_escape(text: str) -> str:
    """``text`` as a literal in an ECMAScript regular expression (std::regex's default)."""
    return re.sub(r"([.^$|?*+()\[\]{}\\/])", r"\\\1", text)


def _literal(text: str) -> str:
    return json.dumps(text)
