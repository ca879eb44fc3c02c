"""The web UI's forms for the code handlers (``core.apps.AppForm``): review and doc.

(``code/ask`` declares its own in ``rag.code_ask``: it lives with the retriever.)"""

from __future__ import annotations

from slmkit.core.apps import AppForm, FormField

PATH = FormField("path", "text", "File name", "파일 이름", "e.g. app.py (filled from a "
                 "chosen file; default input.py)", "예: app.py (고른 파일에서 채워짐; 기본값 "
                 "input.py)")
MODEL = FormField("model", "model", "Model", "모델")

REVIEW = AppForm(
    "Code: review", "코드: 리뷰", "code", (
        FormField("text", "code", "Code", "코드", "a whole file (or give a diff below)",
                  "파일 전체 (또는 아래에 diff)"),
        FormField("diff", "code", "Or a diff", "또는 diff", "a unified diff (git diff); its "
                  "hunks are reviewed", "unified diff (git diff); 바뀐 부분을 리뷰합니다"),
        PATH,
        FormField("checks_only", "boolean", "Deterministic checks only (no model)",
                  "규칙 검사만 (모델 없이)", default=False),
        MODEL),
    "Findings with line numbers, severity and a suggested patch, each one checked.",
    "줄 번호, 심각도, 제안 패치가 있는 검증된 지적 사항.")

DOC = AppForm(
    "Code: docstrings", "코드: 독스트링", "code", (
        FormField("text", "code", "Python file", "파이썬 파일", "the source to document",
                  "독스트링을 붙일 소스", required=True),
        PATH,
        FormField("private", "boolean", "Also private (_name) definitions",
                  "비공개(_name) 정의도 포함", default=False),
        MODEL),
    "Missing docstrings as a patch (git apply); the code itself stays the same.",
    "빠진 독스트링을 패치로 만듭니다 (git apply); 코드는 그대로입니다.")
