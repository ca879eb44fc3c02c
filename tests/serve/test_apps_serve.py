"""The document apps on a real `slm serve` (the shared default-model server): listed under
/v1/apps, a summary over HTTP, and the progress stream."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration
TEXT = "Kim will send the report by Friday. The budget is 1,200 dollars."


def test_summarize_over_http(http):
    names = [a["name"] for a in http.get("/v1/apps").json()["data"]]
    assert {"summarize", "review"} <= set(names)
    r = http.post("/v1/apps/summarize", json={"text": TEXT, "max_words": 20})
    assert r.status_code == 200, r.text
    [res] = r.json()["results"]
    assert res["summary"].strip() and res["action_items"][0]["owner"] == "Kim"
    r = http.post("/v1/apps/summarize", json={"text": TEXT, "max_words": 20, "stream": True})
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[0]["type"] == "progress" and events[-1]["type"] == "result"
    r = http.post("/v1/apps/review", json={"text": TEXT, "checklist": "lease"})
    assert r.status_code == 400 and "checklist" in r.json()["error"]["message"]
