"""The web UI's forms for the logs handlers (``core.apps.AppForm``)."""

from __future__ import annotations

from slmkit.core.apps import AppForm, FormField

LOG = FormField("lines", "log", "Log", "로그", "Paste log lines or choose a log file",
                "로그 줄을 붙여 넣거나 로그 파일을 고르세요", required=True)
FORMAT = FormField("format", "text", "Format", "형식", "auto, a preset (e.g. hdfs) or "
                   "'<Date> <Time> <Level> <Component>: <Content>'", "auto, 미리 정의된 형식 "
                   "(예: hdfs) 또는 '<Date> <Time> <Level> <Component>: <Content>'",
                   default="auto")
STREAM = FormField("stream_id", "text", "Stream", "스트림", "templates and statistics carry "
                   "on between runs of the same stream", "같은 스트림끼리는 템플릿과 통계가 "
                   "이어집니다", default="default")

PARSE = AppForm("Logs: templates", "로그: 템플릿", "log_records", (LOG, FORMAT, STREAM),
                "Each line as its event template and parameters.",
                "각 줄을 이벤트 템플릿과 매개변수로 나눕니다.")
DETECT = AppForm(
    "Logs: anomalies", "로그: 이상 탐지", "log_anomalies", (
        LOG,
        FormField("baseline", "log", "Normal period (optional)", "정상 구간 (선택)",
                  "lines from a quiet period to learn from first",
                  "먼저 학습할 평상시 로그"),
        FORMAT, STREAM,
        FormField("all", "boolean", "Show every event, not only anomalies",
                  "이상뿐 아니라 모든 이벤트 보기", default=False)),
    "New templates, bursts, rare parameters and error levels, scored per event.",
    "새 템플릿, 급증, 드문 매개변수, 오류 수준을 이벤트마다 점수로 매깁니다.")
EXPLAIN = AppForm(
    "Logs: explain anomalies", "로그: 이상 설명", "log_explanations", (
        LOG, FORMAT, STREAM,
        FormField("limit", "number", "At most (anomalies)", "최대 설명 개수", default=20,
                  minimum=1, maximum=1000),
        FormField("model", "model", "Model", "모델")),
    "Anomalies explained by the model, one call per template (cached).",
    "모델이 이상을 설명합니다 (템플릿마다 한 번, 캐시됨).")
