"""Whether a masking regex acts within one whitespace-separated token (``token_local``).

Such a regex finds the same matches in a line as in each of its tokens apart: every piece
of it consumes only non-whitespace characters, so no match (and no lookaround window) can
cross a token boundary, it cannot match the empty string (a line has empty places between
two spaces that no token has), and it has no line anchors (``^``, ``$``, ``\\A``, ``\\Z``), whose
meaning changes between a line and a token. Word boundaries (``\\b``, ``\\B``) are kept:
whitespace and a string's edge are both non-word. The check reads the regex's parse tree
(Python's own parser) and answers False for anything it does not recognise.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache

if sys.version_info >= (3, 11):
    from re import _constants as C
    from re import _parser as parser
else:  # pragma: no cover - Python 3.10
    import sre_constants as C
    import sre_parse as parser

#: Every whitespace code point (``str.split`` and ``\s`` agree on them); the last is U+3000.
_SPACES = frozenset(c for c in range(0x3001) if chr(c).isspace())
_SAFE_CATEGORIES = {C.CATEGORY_DIGIT, C.CATEGORY_WORD, C.CATEGORY_NOT_SPACE}
_SAFE_AT = {C.AT_BOUNDARY, C.AT_NON_BOUNDARY}
_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", C.MAX_REPEAT)}


@lru_cache(maxsize=256)
def token_local(pattern: str) -> bool:
    """Whether ``pattern`` matches the same way in a line and in each of its tokens."""
    try:
        tree = parser.parse(pattern)
    except re.error:
        return False
    # A regex that can match nothing also matches between two spaces, which no token has.
    return tree.getwidth()[0] > 0 and _seq(tree)


def _seq(items) -> bool:
    return all(_item(op, av) for op, av in items)


def _item(op, av) -> bool:  # noqa: PLR0911 - one answer per kind of node
    if op is C.LITERAL:
        return av not in _SPACES
    if op is C.IN:
        return _in_set(av)
    if op is C.AT:
        return av in _SAFE_AT
    if op in _REPEATS:
        return _seq(av[2])
    if op is C.SUBPATTERN:
        return _seq(av[3])
    if op is C.BRANCH:
        return all(_seq(b) for b in av[1])
    if op in (C.ASSERT, C.ASSERT_NOT):
        return _seq(av[1])
    if op is getattr(C, "ATOMIC_GROUP", None):
        return _seq(av)
    if op is C.GROUPREF:
        return True  # repeats what a (checked) group matched
    if op is C.GROUPREF_EXISTS:
        return _seq(av[1]) and (av[2] is None or _seq(av[2]))
    return False  # ANY, NOT_LITERAL, ... can match whitespace


def _in_set(items) -> bool:
    for op, av in items:
        if op is C.NEGATE:
            return False
        if op is C.LITERAL and av in _SPACES:
            return False
        if op is C.RANGE and any(av[0] <= c <= av[1] for c in _SPACES):
            return False
        if op is C.CATEGORY and av not in _SAFE_CATEGORIES:
            return False
        if op not in (C.LITERAL, C.RANGE, C.CATEGORY):
            return False
    return True
