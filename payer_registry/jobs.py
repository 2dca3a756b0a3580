"""Background jobs (batch pre-checks, large payer uploads): RQ jobs on Redis run by
``eligsim worker``, or a thread of the service without Redis.

Both run the same job functions with the same arguments: ids and ranges, nothing personal (JSON
serializer); the data they work on waits in the registry."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from payer_registry import batch, uploads
from payer_registry.db import Registry
from payer_registry.settings import load_settings

log = logging.getLogger(__name__)
RETRIES = 3
JOB_TIMEOUT = 600
MONITORING_INTERVAL = 5  # seconds between a busy worker's heartbeats
HEARTBEAT_GRACE = 10  # a job unheard of for this long after a heartbeat counts as abandoned

# name -> (work, what to do once every retry has failed); both take the registry, then the job's args
JOBS: dict[str, tuple[Callable[..., object], Callable[..., None]]] = {
    "batch_range": (batch.process_range, batch.mark_failed),
    "payer_upload": (uploads.process_upload, uploads.mark_failed),
}


class QueueUnavailable(RuntimeError):
    """Jobs cannot be queued (Redis does not answer)."""


def run_job(name: str, *args) -> None:
    """The RQ entry point: run job ``name`` on the registry named by the settings."""
    JOBS[name][0](_registry(), *args)


def job_failed(
    job: Job, connection: Redis, exc_type: type, exc_value: BaseException, traceback: object
) -> None:
    """RQ failure callback: give up on the work only once no retry is left."""
    if job.retries_left:
        return
    name, *args = job.args
    JOBS[name][1](_registry(), *args)


@functools.cache
def _registry() -> Registry:
    return Registry.from_settings(load_settings())


class JobRunner(Protocol):
    def enqueue(self, name: str, *args) -> None: ...


class RqRunner:
    """Queues RQ jobs; a job whose worker dies is retried by another worker."""

    def __init__(self, redis_url: str, queue_name: str) -> None:
        self.queue = Queue(
            queue_name, connection=redis_connection(redis_url), serializer=JSONSerializer
        )

    def enqueue(self, name: str, *args) -> None:
        try:
            self.queue.enqueue(
                run_job,
                args=(name, *args),
                retry=Retry(max=RETRIES),
                on_failure=Callback(job_failed),
                job_timeout=JOB_TIMEOUT,
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
        except RedisError as error:
            raise QueueUnavailable(f"the job queue at Redis is unavailable: {error}") from None


class InProcessRunner:
    """Without Redis: the same job functions on a background thread, on the service's registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobs")

    def enqueue(self, name: str, *args) -> None:
        self.executor.submit(self._run, name, args)

    def _run(self, name: str, args: tuple) -> None:
        work, give_up = JOBS[name]
        for attempt in range(1, RETRIES + 2):
            try:
                work(self.registry, *args)
                return
            except Exception:
                log.exception("job %s failed (attempt %d)", name, attempt)
        give_up(self.registry, *args)


def redis_connection(redis_url: str) -> Redis:
    return Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=10)


class JobWorker(Worker):
    """An RQ worker whose busy heartbeat is short, so that a job whose worker was killed is seen as
    abandoned and retried within seconds rather than RQ's default minute and more."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return self.job_monitoring_interval + HEARTBEAT_GRACE


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
    worker.work(burst=burst, logging_level="WARNING")
