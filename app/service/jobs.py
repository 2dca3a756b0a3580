"""Background jobs (batch pre-checks, large payer uploads): RQ jobs on Redis run by
``eligsim worker``, or a thread of the service without Redis.

A job is a small dataclass (``JobSpec``) holding ids and ranges, nothing personal (RQ's JSON
serializer); the data it works on waits in the database. Its ``run`` does the work and its
``give_up`` records the failure once every retry has failed. ``app.service.job_kinds`` finds a job's
class by name for the workers."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Protocol

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry, Worker
from rq.job import Job as RqJob
from rq.serializers import JSONSerializer

from app.service.errors import ServiceError
from payer_registry.db import Registry

log = logging.getLogger(__name__)
RETRIES = 3
JOB_TIMEOUT = 600
MONITORING_INTERVAL = 5  # seconds between a busy worker's heartbeats
HEARTBEAT_GRACE = 10  # a job unheard of for this long after a heartbeat counts as abandoned
ENTRY_POINT = "app.service.job_kinds.run_job"
FAILURE_CALLBACK = "app.service.job_kinds.job_failed"


class JobSpec(Protocol):
    """A job: a dataclass of JSON-ready fields with a name, its work and its give-up step."""

    name: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Any]]

    def run(self, registry: Registry) -> object: ...

    def give_up(self, registry: Registry) -> None: ...


class QueueUnavailable(RuntimeError):
    """Jobs cannot be queued (Redis does not answer)."""


class JobRunner(Protocol):
    def enqueue(self, job: JobSpec) -> None: ...


def enqueue_or_undo(runner: JobRunner, jobs: Sequence[JobSpec], undo: Callable[[], None]) -> None:
    """Queue every job; when the queue is down, undo what was stored and refuse."""
    try:
        for job in jobs:
            runner.enqueue(job)
    except QueueUnavailable:
        undo()
        raise ServiceError(
            "BATCH_QUEUE_UNAVAILABLE", "background jobs cannot be queued now; retry later"
        ) from None


class RqRunner:
    """Queues RQ jobs; a job whose worker dies is retried by another worker."""

    def __init__(self, redis_url: str, queue_name: str) -> None:
        self.queue = Queue(
            queue_name, connection=redis_connection(redis_url), serializer=JSONSerializer
        )

    def enqueue(self, job: JobSpec) -> None:
        try:
            self.queue.enqueue(
                ENTRY_POINT,
                args=(job.name, dataclasses.asdict(job)),
                retry=Retry(max=RETRIES),
                on_failure=Callback(FAILURE_CALLBACK),
                job_timeout=JOB_TIMEOUT,
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
        except RedisError as error:
            raise QueueUnavailable(f"the job queue at Redis is unavailable: {error}") from None


class InProcessRunner:
    """Without Redis: the same jobs on a background thread, on the service's registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobs")

    def enqueue(self, job: JobSpec) -> None:
        self.executor.submit(run_with_retries, self.registry, job)


def run_with_retries(registry: Registry, job: JobSpec) -> None:
    """Run the job, retrying as the RQ runner does; give up once every retry has failed."""
    for attempt in range(1, RETRIES + 2):
        try:
            job.run(registry)
            return
        except Exception:
            log.exception("job %s failed (attempt %d)", job.name, attempt)
    job.give_up(registry)


def redis_connection(redis_url: str) -> Redis:
    return Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=10)


class JobWorker(Worker):
    """An RQ worker whose busy heartbeat is short, so that a job whose worker was killed is seen as
    abandoned and retried within seconds rather than RQ's default minute and more."""

    def get_heartbeat_ttl(self, job: RqJob, working_time: float = 0.0) -> int:
        return int(self.job_monitoring_interval + HEARTBEAT_GRACE)


def run_worker(redis_url: str, queue_name: str, burst: bool = False) -> None:
    """Work the job queue until stopped (or until it is empty, with ``burst``)."""
    connection = redis_connection(redis_url)
    try:
        connection.ping()
    except RedisError as error:
        raise QueueUnavailable(f"cannot reach Redis at {redis_url}: {error}") from None
    worker = JobWorker(
        [Queue(queue_name, connection=connection, serializer=JSONSerializer)],
        connection=connection,
        serializer=JSONSerializer,
        worker_ttl=MONITORING_INTERVAL + HEARTBEAT_GRACE + 15,
        job_monitoring_interval=MONITORING_INTERVAL,
        maintenance_interval=MONITORING_INTERVAL * 2,
    )
    worker.work(burst=burst, logging_level="INFO")  # job starts and ends: ids and ranges only
