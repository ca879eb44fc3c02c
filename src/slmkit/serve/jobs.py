"""Background jobs for the web UI: model pulls and document ingests.

A job runs on its own daemon thread and reports progress into a plain dict that
``GET /v1/ui/jobs/{id}`` returns, so a page reload (or another tab) picks it up where
it is. Jobs live in memory: a server restart forgets them (the work they finished stays
done: a pulled model is in the store, an ingested file in its collection).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from slmkit.core.errors import SlmError

KEEP_FINISHED = 50  # finished jobs remembered for the UI


class JobNotFound(SlmError):
    code = "job_not_found"


class Job:
    """One background task: ``kind``, ``title``, ``state`` (running, done, failed),
    ``progress`` in [0, 1] or None, free-form ``detail`` (per-file results) and ``error``."""

    def __init__(self, kind: str, title: str) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.kind, self.title = kind, title
        self.state, self.progress, self.error = "running", None, None
        self.detail: dict[str, Any] = {}
        self.started, self.finished = time.time(), None
        self._lock = threading.Lock()

    def report(self, progress: float | None = None, **detail: Any) -> None:
        """Update the progress (0..1) and merge ``detail`` (thread-safe)."""
        with self._lock:
            if progress is not None:
                self.progress = max(0.0, min(1.0, progress))
            self.detail.update(detail)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"id": self.id, "kind": self.kind, "title": self.title,
                    "state": self.state, "progress": self.progress, "error": self.error,
                    "detail": dict(self.detail), "started": self.started,
                    "finished": self.finished}


class JobBoard:
    """Starts jobs on threads and keeps them for the UI to poll."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, title: str, work: Callable[[Job], dict[str, Any] | None]) -> Job:
        """Run ``work(job)`` in the background; what it returns is merged into the detail."""
        job = Job(kind, title)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        threading.Thread(target=self._run, args=(job, work), daemon=True,
                         name=f"slm-job-{kind}").start()
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Job], dict[str, Any] | None]) -> None:
        try:
            result = work(job) or {}
            job.report(1.0, **result)
            state, error = "done", None
        except Exception as err:  # noqa: BLE001 - reported to the UI
            state = "failed"
            error = err.message if isinstance(err, SlmError) else str(err) or type(err).__name__
        with job._lock:
            job.state, job.error, job.finished = state, error, time.time()

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"job {job_id!r} not found",
                              hint="jobs are kept in memory: a restarted server forgets them")
        return job

    def list(self) -> list[dict[str, Any]]:  # noqa: A003
        """Every job, newest first."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [j.to_dict() for j in sorted(jobs, key=lambda j: j.started, reverse=True)]

    def _forget_old(self) -> None:
        done = sorted((j for j in self._jobs.values() if j.state != "running"),
                      key=lambda j: j.started)
        for job in done[:max(0, len(done) - KEEP_FINISHED)]:
            del self._jobs[job.id]
