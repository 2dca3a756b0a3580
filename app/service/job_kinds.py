"""Every kind of background job by name, and the entry points the RQ workers call."""

from __future__ import annotations

import functools
from typing import Any

from redis import Redis
from rq.job import Job as RqJob

from app.database import open_registry
from app.service.batches import BatchRangeJob
from app.service.jobs import JobSpec
from app.service.uploads import PayerUploadJob
from app.settings import load_settings
from payer_registry.db import Registry

KINDS: dict[str, type[BatchRangeJob] | type[PayerUploadJob]] = {
    kind.name: kind for kind in (BatchRangeJob, PayerUploadJob)
}


def job_of(name: str, fields: dict[str, Any]) -> JobSpec:
    return KINDS[name](**fields)


def run_job(name: str, fields: dict[str, Any]) -> None:
    """The RQ entry point: run the job on the registry named by the worker's settings."""
    job_of(name, fields).run(_registry())


def job_failed(
    job: RqJob, connection: Redis, exc_type: type, exc_value: BaseException, traceback: object
) -> None:
    """RQ failure callback: give up on the work only once no retry is left."""
    if job.retries_left:
        return
    name, fields = job.args
    job_of(name, fields).give_up(_registry())


@functools.cache
def _registry() -> Registry:
    return open_registry(load_settings())
