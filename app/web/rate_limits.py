"""Rate limits checked before every view: most requests spend units this process already leased
from Redis, the rest take more for every limit they lack in one Redis round trip.

Each limit is a fixed window per key (an account, or a client address): the first request of a
window opens it for the limit's period; a request over the limit is refused with 429 and
``Retry-After``, the seconds until its window ends. Limits are met in order of their periods' units,
the shortest first, and the first one a request goes over refuses it, the later ones left uncounted.

With Redis the counters are shared by every process, and a process *leases* units from them: for
each counter (one window of one limit for one key) it keeps the units it took and has not spent yet,
and until when the window lasts. A request whose counters all hold enough leased units spends them
without asking Redis; otherwise one script takes, for each counter lacking, the units lacking or
``lease_size(limit)`` if more, or whatever is left below the limit, and refuses at the first counter
with too few left, taking nothing of it (a refused batch leaves what is left to smaller requests)
nor of the later ones (units the request took of their leases go back). A counter never goes over
its limit, so every process together never admits more than the limit in a window; units leased
and not spent when the window ends are lost, so near its limit a client may be refused while
another process still holds units of the window: stricter, never looser. A lease ends when its
window ends at the latest (measured from before the script ran).

``lease_size`` is 1 below a limit of 128, so small limits (portal sign-ins, disaster searches, a
tight test limit) count every request in Redis exactly as before, and ``limit // 64`` up to 64
above: a process strands at most 1/64 of a window (8 processes at worst an eighth), and one
request in up to 64 pays the round trip (the default 1200 a minute leases 18 at a time, 20000 an
hour 64; beyond 64 the round trips saved are few and the units stranded many).

Without Redis, and for a few seconds after Redis fails to answer, each process counts alone in
memory."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
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
LEASES_PRUNED_ABOVE = 1024  # leases kept before the ended ones are dropped
COUNTED_KEPT = 4096  # requests' windows kept by (endpoint, keys, costs)

# KEYS: the counters a request lacks units of; ARGV: per counter its period in seconds, the units
# lacking, the units to take if left, and the limit. Answers per counter the units granted and its
# window's milliseconds left, up to the first counter with too few left: granted 0, the refusal.
_LEASE_SCRIPT = """
local function ms_left(key, period)
  local ms = redis.call("pttl", key)
  if ms == -1 then redis.call("expire", key, period) end
  if ms < 0 then return period * 1000 end
  return ms
end
local answers = {}
for i, key in ipairs(KEYS) do
  local period, lacking = tonumber(ARGV[4*i-3]), tonumber(ARGV[4*i-2])
  local wanted, limit = tonumber(ARGV[4*i-1]), tonumber(ARGV[4*i])
  local left = limit - tonumber(redis.call("get", key) or "0")
  local granted = 0
  if left >= lacking then
    granted = math.min(wanted, left)
    redis.call("incrby", key, granted)
  end
  table.insert(answers, granted)
  table.insert(answers, ms_left(key, period))
  if granted == 0 then break end
end
return answers
"""


def lease_size(limit: int) -> int:
    """The units a process takes of a counter at once (see the module's docstring for why)."""
    return max(1, min(64, limit // 64))


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

    @cached_property
    def redis_key(self) -> str:
        """The counter's key as flask-limiter named it, so processes of either version share it."""
        return f"LIMITS:{self.item.key_for(*self.names)}"


@dataclass
class Lease:
    """Units of one counter this process took from Redis and has not spent, until ``ends_at``
    (``time.monotonic``), no later than the counter's window ends."""

    ends_at: float
    units: int = 0


@dataclass(frozen=True)
class Taken:
    """Units a request took from a lease (none without one): given back to that same lease, never
    to a later window's."""

    lease: Lease | None
    units: int


class Leases:
    """One process's leases by counter key. Gunicorn's threads share them under a lock, held for
    the bookkeeping only, never across a round trip; ``pid`` tells a forked child they are not
    its."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._by_key: dict[str, Lease] = {}
        self._lock = threading.Lock()
        self._pruned_above = LEASES_PRUNED_ABOVE

    def take(self, counted: list[Counted]) -> list[Taken]:
        """Per counter, its cost from its lease, or all the lease holds if less."""
        now = time.monotonic()
        taken = []
        with self._lock:
            for one in counted:
                lease = self._by_key.get(one.redis_key)
                units = min(one.cost, lease.units) if lease and lease.ends_at > now else 0
                if lease:
                    lease.units -= units
                taken.append(Taken(lease, units))
        return taken

    def give_back(self, taken: list[Taken]) -> None:
        with self._lock:
            for one in taken:
                if one.lease:
                    one.lease.units += one.units

    def add(self, key: str, units: int, ends_at: float) -> None:
        """Keep ``units`` of a counter until ``ends_at``: beside the lease of its window if there
        is one, else as a new lease."""
        if units <= 0:
            return
        now = time.monotonic()
        with self._lock:
            lease = self._by_key.get(key)
            if lease and lease.ends_at > now:
                lease.units += units
                lease.ends_at = min(lease.ends_at, ends_at)
                return
            self._by_key[key] = Lease(ends_at, units)
            if len(self._by_key) > self._pruned_above:
                self._drop_ended(now)

    def _drop_ended(self, now: float) -> None:
        """Forget the leases whose windows ended, so counters of keys seen once do not pile up."""
        self._by_key = {key: lease for key, lease in self._by_key.items() if lease.ends_at > now}
        self._pruned_above = max(LEASES_PRUNED_ABOVE, 2 * len(self._by_key))


def parsed(limit: str) -> list[RateLimitItem]:
    """The windows of a limit in flask-limiter's syntax; ValueError for one it cannot read."""
    return parse_many(limit)


class RequestLimits:
    """The rules, checked before every view but static files (and requests that match no route)."""

    def __init__(self, rules: list[Rule], redis_url: str | None) -> None:
        self.rules = rules
        self._redis = redis_connection(redis_url) if redis_url else None
        self._script = self._redis.register_script(_LEASE_SCRIPT) if self._redis else None
        self._leases = Leases()
        self._counted_by_request: dict[tuple[Any, ...], list[Counted]] = {}
        self._memory = FixedWindowRateLimiter(MemoryStorage())
        self._redis_down_until = 0.0

    def init_app(self, app: Flask) -> None:
        app.extensions["request_limits"] = self
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
        """The windows the request is counted in, shortest first; the same for every request of
        one key (and cost) to one endpoint, so built once and kept (a few thousand at most)."""
        applying = [
            (rule, rule.key(), rule.cost(view)) for rule in self.rules if rule.applies(view)
        ]
        cache_key = (endpoint, *((key, cost) for _rule, key, cost in applying))
        counted = self._counted_by_request.get(cache_key)
        if counted is None:
            counted = sorted(
                (
                    Counted(item, (key, rule.scope or endpoint), cost, rule.message or str(item))
                    for rule, key, cost in applying
                    for item in rule.limits
                ),
                key=lambda one: one.item.GRANULARITY.seconds,
            )
            if len(self._counted_by_request) >= COUNTED_KEPT:
                self._counted_by_request.clear()
            self._counted_by_request[cache_key] = counted
        return counted

    def _count(self, counted: list[Counted]) -> tuple[Counted, int] | None:
        if self._script is not None and time.monotonic() >= self._redis_down_until:
            try:
                return self._count_in_redis(counted)
            except RedisError as error:
                log.warning("rate limits counted in memory for a while: Redis: %s", error)
                self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER
        return self._count_in_memory(counted)

    def _count_in_redis(self, counted: list[Counted]) -> tuple[Counted, int] | None:
        """Spend leased units; take what the leases lack from Redis in one round trip, keep the
        rest as leases, and give back what the counters from a refusing one on had taken."""
        leases = self._leases_of_this_process()
        taken = leases.take(counted)
        lacking = [i for i, one in enumerate(counted) if taken[i].units < one.cost]
        if not lacking:
            return None
        sent_at = time.monotonic()
        try:
            answers = self._top_up([counted[i] for i in lacking], [taken[i] for i in lacking])
        except RedisError:
            leases.give_back(taken)
            raise
        for i, (granted, ms_left) in zip(lacking, answers, strict=False):
            one = counted[i]
            if not granted:
                leases.give_back(taken[i:])
                return one, math.ceil(ms_left / 1000)
            surplus = taken[i].units + granted - one.cost
            leases.add(one.redis_key, surplus, sent_at + ms_left / 1000)
        return None

    def _top_up(self, lacking: list[Counted], taken: list[Taken]) -> list[tuple[int, int]]:
        """Per counter lacking units, the units Redis granted and its window's milliseconds left,
        up to the first that refused (granted 0)."""
        assert self._script is not None
        arguments = []
        for one, had in zip(lacking, taken, strict=True):
            short, limit = one.cost - had.units, one.item.amount
            arguments += [one.item.get_expiry(), short, max(short, lease_size(limit)), limit]
        flat = self._script(keys=[one.redis_key for one in lacking], args=arguments)
        return [(int(flat[j]), int(flat[j + 1])) for j in range(0, len(flat), 2)]

    def _leases_of_this_process(self) -> Leases:
        """The leases, forgotten in a process forked after they were taken (gunicorn's preload):
        its parent may spend the same units."""
        if self._leases.pid != os.getpid():
            self._leases = Leases()
        return self._leases

    def _count_in_memory(self, counted: list[Counted]) -> tuple[Counted, int] | None:
        for one in counted:
            if not self._memory.hit(one.item, *one.names, cost=one.cost):
                reset_at = self._memory.get_window_stats(one.item, *one.names).reset_time
                return one, int(reset_at - time.time())
        return None
