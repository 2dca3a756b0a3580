"""Running batch pre-checks: RQ jobs on Redis (``eligsim worker``), or in-process without Redis.

Both run the same job function with the same arguments: a reception number and a range of
positions, nothing personal (JSON serializer)."""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry, Worker
from rq.serializers import JSONSerializer

from payer_registry import batch
from payer_registry.db import Registry
from payer_registry.settings import load_settings

log = logging.getLogger(__name__)
QUEUE_NAME = "eligsim-batches"
RETRIES = 3
JOB_TIMEOUT = 600
MONITORING_INTERVAL = 5  # seconds between a busy worker's heartbeats
HEARTBEAT_GRACE = 10  # a job unheard of for this long after a heartbeat counts as abandoned


class QueueUnavailable(RuntimeError):
    """Jobs cannot be queued (Redis does not answer)."""


def process_batch_range(reception_number: str, start: int, end: int) -> int:
    """The job: answer the inquiries of one range of a batch."""
    return batch.process_range(_registry().begin, reception_number, start, end)


def batch_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: the batch fails only once its job has no retries left."""
    if job.retries_left:
        return
    with _registry().begin() as conn:
        batch.mark_failed(conn, job.args[0])


@functools.cache
def _registry() -> Registry:
    return Registry.from_settings(load_settings())


class BatchRunner(Protocol):
    def submit(self, reception_number: str, total: int) -> None: ...


class RqRunner:
    """Queues one RQ job per range; a job whose worker dies is retried by another worker."""

    def __init__(self, redis_url: str) -> None:
        self.queue = Queue(
            QUEUE_NAME, connection=redis_connection(redis_url), serializer=JSONSerializer
        )

    def submit(self, reception_number: str, total: int) -> None:
        try:
            for start, end in batch.chunks(total):
                self.queue.enqueue(
                    process_batch_range,
                    args=(reception_number, start, end),
                    retry=Retry(max=RETRIES),
                    on_failure=Callback(batch_failed),
                    job_timeout=JOB_TIMEOUT,
                    result_ttl=3600,
                    failure_ttl=7 * 24 * 3600,
                )
        except RedisError as error:
            raise QueueUnavailable(f"the job queue at Redis is unavailable: {error}") from None


class InProcessRunner:
    """Without Redis: the same job code on a background thread of this process, on its registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch")

    def submit(self, reception_number: str, total: int) -> None:
        for start, end in batch.chunks(total):
            self.executor.submit(self._run, reception_number, start, end)

    def _run(self, reception_number: str, start: int, end: int) -> None:
        for attempt in range(1, RETRIES + 2):
            try:
                batch.process_range(self.registry.begin, reception_number, start, end)
                return
            except Exception:
                log.exception("batch range failed (attempt %d)", attempt)
        with self.registry.begin() as conn:
            batch.mark_failed(conn, reception_number)


def redis_connection(redis_url: str) -> Redis:
    return Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=10)


class BatchWorker(Worker):
    """An RQ worker whose busy heartbeat is short, so that a job whose worker was killed is seen as
    abandoned and retried within seconds rather than RQ's default minute and more."""

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        return self.job_monitoring_interval + HEARTBEAT_GRACE


def run_worker(redis_url: str, burst: bool = False) -> None:
    """Work the batch queue until stopped (or until it is empty, with ``burst``)."""
    connection = redis_connection(redis_url)
    try:
        connection.ping()
    except RedisError as error:
        raise QueueUnavailable(f"cannot reach Redis at {redis_url}: {error}") from None
    worker = BatchWorker(
        [Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer)],
        connection=connection,
        serializer=JSONSerializer,
        worker_ttl=MONITORING_INTERVAL + HEARTBEAT_GRACE + 15,
        job_monitoring_interval=MONITORING_INTERVAL,
        maintenance_interval=MONITORING_INTERVAL * 2,
    )
    worker.work(burst=burst, logging_level="WARNING")
