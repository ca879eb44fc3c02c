"""Masking: which regexes may run token by token, and that running them so (with a cache,
around line-wide masks) gives exactly what Loghub's whole-line substitution gives."""

from __future__ import annotations

import re

import pytest

from slmkit.apps.logs.masking import DEFAULT_MASKS, LOGHUB_MASKS, WILDCARD, Masker
from slmkit.apps.logs.regex_scope import token_local


@pytest.mark.parametrize("pattern", [*DEFAULT_MASKS, r"blk_-?\d+", r"((\d+\.){3}\d+,?)+",
                                     r"\b[KGTM]?B\b", r"(?<![A-Za-z])\d+", r"(?i)id=\w+"])
def test_token_local_masks(pattern):
    assert token_local(pattern)


@pytest.mark.parametrize("pattern", [r"/.+?\s", r"^\d+", r"\d+$", r"a.b", r"[^x]+", r"\s",
                                     r"(?<=\s)\d", r"[ -~]+", r"\d*", r"x(?=\s)", r"[^\d]"])
def test_masks_that_need_the_whole_line(pattern):
    assert not token_local(pattern)


def whole_line(patterns, text):
    for p in patterns:
        text = re.sub(p, WILDCARD, text)
    return text.split()


LINES = [
    '10.11.10.1 "GET /v2/54fa/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.24',
    "a  b\t/x/1 9 /y  7 10.0.0.1,10.0.0.2 end",   # runs of spaces, a tab
    "  leading /p 12 trailing  ",
    "/only/a/path",
    "no digits here",
    "",
]


@pytest.mark.parametrize("patterns", [LOGHUB_MASKS["OpenStack"], DEFAULT_MASKS,
                                      (r"/.+?\s",), (r"\d+", r"/.+?\s"), (r"/.+?\s", r"\d+")])
def test_staged_masking_equals_whole_line_substitution(patterns):
    m = Masker(patterns)
    for _ in range(2):  # the second pass is served from the token caches
        for line in LINES:
            raw, masked = m.tokens(line)
            assert raw == line.split()
            assert masked == whole_line(patterns, line), line
            assert m.line(line).split() == masked
