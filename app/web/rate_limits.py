"""Rate limits checked before every view: all the limits a request meets in one Redis round trip.

Each limit is a fixed window per key (an account, or a client address): the first request of a
window opens it for the limit's period; a request over the limit is refused with 429 and
``Retry-After``, the seconds until its window ends. Limits are met in order of their periods' units, the
shortest first, and the first one a request goes over refuses it, the later ones left uncounted.
With Redis, one script counts the request against every limit at once, so every process shares
the counts; without Redis, and for a few seconds after Redis fails to answer, each process counts
alone in memory."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError
from werkzeug.exceptions import TooManyRequests

from app.service.jobs import redis_connection

log = logging.getLogger(__name__)
View = Callable[..., Any]
REDIS_RETRY_AFTER = 5.0  # seconds of counting in memory after Redis failed to answer

# KEYS: the windows' counters; ARGV: per counter, its period in seconds, the request's cost and the
# limit. Answers the 1-based index of the first limit gone over with its window's seconds left,
# or {0, 0}.
_COUNT_SCRIPT = """
for i, key in ipairs(KEYS) do
  local period, cost, limit = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  local count = redis.call("incrby", key, cost)
  if count == cost then redis.call("expire", key, period) end
  if count > limit then return {i, redis.call("ttl", key)} end
end
return {0, 0}
"""


@dataclass(frozen=True)
class Rule:
    """A limit (one or more windows, e.g. ``"10 per second; 1000 per hour"``) and whom and what it
    counts. ``scope``: the name its counts share; ``None`` counts each route apart."""

    limits: list[RateLimitItem]
    key: Callable[[], str]
    applies: Callable[[View], bool] = lambda _view: True
    cost: Callable[[View], int] = lambda _view: 1
    scope: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Counted:
    """One window a request is counted in, under whom (the rule's key) and what (its scope)."""

    item: RateLimitItem
    names: tuple[str, str]
    cost: int
    message: str

    @property
    def redis_key(self) -> str:
        """The counter's key as flask-limiter named it, so processes of either version share it."""
        return f"LIMITS:{self.item.key_for(*self.names)}"


def parsed(limit: str) -> list[RateLimitItem]:
    """The windows of a limit in flask-limiter's syntax; ValueError for one it cannot read."""
    return parse_many(limit)


class RequestLimits:
    """The rules, checked before every view but static files (and requests that match no route)."""

    def __init__(self, rules: list[Rule], redis_url: str | None) -> None:
        self.rules = rules
        self._redis = redis_connection(redis_url) if redis_url else None
        self._script = self._redis.register_script(_COUNT_SCRIPT) if self._redis else None
        self._memory = FixedWindowRateLimiter(MemoryStorage())
        self._redis_down_until = 0.0

    def init_app(self, app: Flask) -> None:
        app.before_request(self.check)

    def check(self) -> None:
        endpoint = request.endpoint
        if not endpoint or endpoint.rsplit(".", 1)[-1] == "static":
            return
        counted = self._counted(endpoint, current_app.view_functions[endpoint])
        if not counted:
            return
        over = self._count(counted)
        if over is not None:
            breached, seconds = over
            raise TooManyRequests(breached.message, retry_after=max(1, seconds))

    def _counted(self, endpoint: str, view: View) -> list[Counted]:
        counted = []
        for rule in self.rules:
            if not rule.applies(view):
                continue
            names, cost = (rule.key(), rule.scope or endpoint), rule.cost(view)
            for item in rule.limits:
                counted.append(Counted(item, names, cost, rule.message or str(item)))
        return sorted(counted, key=lambda one: one.item.GRANULARITY.seconds)

    def _count(self, counted: list[Counted]) -> tuple[Counted, int] | None:
        if self._script is not None and time.monotonic() >= self._redis_down_until:
            try:
                return self._count_in_redis(counted)
            except RedisError as error:
                log.warning("rate limits counted in memory for a while: Redis: %s", error)
                self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER
        return self._count_in_memory(counted)

    def _count_in_redis(self, counted: list[Counted]) -> tuple[Counted, int] | None:
        assert self._script is not None
        arguments = []
        for one in counted:
            arguments += [one.item.get_expiry(), one.cost, one.item.amount]
        index, seconds = self._script(keys=[one.redis_key for one in counted], args=arguments)
        return (counted[index - 1], int(seconds)) if index else None

    def _count_in_memory(self, counted: list[Counted]) -> tuple[Counted, int] | None:
        for one in counted:
            if not self._memory.hit(one.item, *one.names, cost=one.cost):
                reset_at = self._memory.get_window_stats(one.item, *one.names).reset_time
                return one, int(reset_at - time.time())
        return None
