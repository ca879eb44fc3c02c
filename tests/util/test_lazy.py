"""Server state built on first use (slmkit.util.lazy): built once, on the first read,
from any thread; a failed build is retried by the next reader."""

import threading

import pytest

from slmkit.util.lazy import Deferred, LazyMapping, resolve


def test_deferred_builds_once_on_first_use_across_threads():
    calls = []
    value = Deferred(lambda: calls.append(1) or {"built": len(calls)})
    assert not value.built and calls == []
    threads = [threading.Thread(target=value.get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and value.get() == {"built": 1} and value.built
    assert resolve(value) is value.get() and resolve("plain") == "plain"


def test_a_failed_build_is_retried():
    attempts = []

    def build():
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("disk not ready")
        return "ok"

    value = Deferred(build)
    with pytest.raises(OSError):
        value.get()
    assert value.get() == "ok" and len(attempts) == 2


def test_lazy_mapping_reads_like_a_dict_and_builds_at_the_first_read():
    calls = []
    apps = LazyMapping(lambda: calls.append(1) or {"summarize": 1, "logs/detect": 2})
    assert calls == [] and not apps.built
    assert sorted(apps) == ["logs/detect", "summarize"] and apps["summarize"] == 1
    assert apps.get("review") is None and len(apps) == 2 and bool(apps)
    assert calls == [1]
