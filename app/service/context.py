"""What every use case works with: the settings, the database, the card trust store, the job queue,
the audit log's keys and checkpoints.

Built once per process (the web app, a worker, the CLI, the terminal) and passed to the use cases."""

from __future__ import annotations

from dataclasses import dataclass

from app.database import open_registry
from app.service.audit import AuditTrail, use_trail
from app.service.jobs import InProcessRunner, JobRunner, RqRunner
from app.settings import Settings
from card_reader.authority import Authority
from card_reader.verify import TrustStore
from payer_registry.db import Registry


@dataclass(frozen=True)
class ServiceContext:
    settings: Settings
    registry: Registry
    trust_store: TrustStore
    jobs: JobRunner
    audit: AuditTrail

    @classmethod
    def open(cls, settings: Settings) -> ServiceContext:
        """The context the settings describe; the database schema is brought up to date, and the
        audit key loaded (created on first use)."""
        registry = open_registry(settings)
        audit = use_trail(registry.engine, settings)
        trust_store = TrustStore.for_authority(Authority(settings.jpki_dir))
        jobs: JobRunner = (
            RqRunner(settings.redis_url, settings.job_queue)
            if settings.redis_url
            else InProcessRunner(registry)
        )
        return cls(settings, registry, trust_store, jobs, audit)

    def close(self) -> None:
        self.registry.dispose()
