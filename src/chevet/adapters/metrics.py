"""The Prometheus metrics of one server process (docs/metrics.md), with ``prometheus_client``.

The hot paths (a request answered, an entry written to a stream) add to plain lists in the event
loop's thread: no lock, no label lookup by name; about a third of the time prometheus_client's own
histogram takes per observation (measured side by side), under a microsecond on an idle core.
What lives in the database (outbox depth and age, dead letters) is read at scrape time by a few
bounded queries: at most ``OUTBOX_CAP`` rows are counted per figure, within
``SCRAPE_DB_TIMEOUT`` seconds, and not more than once every ``SCRAPE_DB_EVERY`` seconds however
many scrapers ask.

No label ever carries an organisation, a person, a conversation, a path with ids or content:
routes are templates, outboxes, jobs and key providers are names from the code or the settings.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, literal, select
from sqlalchemy.sql.expression import ColumnElement

from chevet.adapters.db.database import READ_ONLY, SqlDatabase
from chevet.adapters.db.schema_mail import mail_outbox
from chevet.adapters.db.schema_mssante import mss_message

log = logging.getLogger("chevet.metrics")

REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
OUTBOX_CAP = 100_000
SCRAPE_DB_TIMEOUT = 2.0
SCRAPE_DB_EVERY = 5.0
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # any other: "other"

Key = tuple[str, ...]


class Histogram:
    """A labelled histogram kept as plain lists; read by ``family`` at scrape time."""

    def __init__(self, name: str, doc: str, labels: Sequence[str], bounds: Sequence[float]) -> None:
        self.name, self.doc, self.labels, self.bounds = name, doc, tuple(labels), tuple(bounds)
        self.series: dict[Key, list[float]] = {}  # per key: one count per bucket, +Inf, then the sum
        if not self.labels:  # one series from the start: rate() has a zero to start from
            self.series[()] = [0.0] * (len(self.bounds) + 2)

    def observe(self, key: Key, value: float) -> None:
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = [0.0] * (len(self.bounds) + 2)
        s[bisect.bisect_left(self.bounds, value)] += 1
        s[-1] += value

    def family(self) -> HistogramMetricFamily:
        fam = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        for key, s in sorted(self.series.items()):
            running, buckets = 0.0, []
            for bound, n in zip((*map(_bound, self.bounds), "+Inf"), s[:-1], strict=True):
                running += n
                buckets.append((bound, running))
            fam.add_metric(list(key), buckets, s[-1])
        return fam


def _bound(b: float) -> str:
    return repr(float(b))


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class OutboxFigures:
    """What one scrape read of the durable outboxes (or None when the database did not answer)."""

    def __init__(self) -> None:
        self.read_at = -SCRAPE_DB_EVERY
        self.ok = False
        self.depth: dict[str, int] = {}
        self.oldest_age: dict[str, float] = {}
        self.dead: dict[str, int] = {}


def _capped_count(table: Any, where: ColumnElement[bool]) -> Any:
    inner = select(literal(1)).select_from(table).where(where).limit(OUTBOX_CAP).subquery()
    return select(func.count()).select_from(inner)


class PrometheusMetrics(Collector):
    """``chevet.ports.metrics.Metrics`` for one process, with its own registry."""

    enabled = True

    def __init__(self, db: SqlDatabase, *, version: str, providers: Iterable[str],
                 providers_down: Callable[[], Mapping[str, int]], now: Callable[[], float] = time.time) -> None:
        self._db = db
        self._version = version
        self._providers = tuple(sorted(providers))
        self._providers_down = providers_down
        self._now = now
        self._connections: Callable[[], int] = lambda: 0
        self.requests = Histogram("chevet_http_request_duration_seconds",
                                  "Time to answer an HTTP request, by route template, method and status class",
                                  ("method", "route", "status"), REQUEST_BUCKETS)
        self.batches = Histogram("chevet_send_batch_size",
                                 "Sends written per group commit (one transaction, one disk sync)", (), BATCH_BUCKETS)
        self.lag = Histogram("chevet_delivery_lag_seconds",
                             "From an entry's time in its committing transaction to its writing to a live stream",
                             (), LAG_BUCKETS)
        self._job_success: dict[str, float] = {}
        self._last_at: str | None = None
        self._last_ts = 0.0
        self._outboxes = OutboxFigures()
        self._refresh_lock = asyncio.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, open fds, CPU, start time

    # --- observations (the port) -----------------------------------------------------------
    def request_served(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.observe((method if method in METHODS else "other", route, status_class(status)), seconds)

    def send_batch(self, size: int) -> None:
        self.batches.observe((), size)

    def delivered(self, entry_at: str) -> None:
        # One event goes to every receiver in turn: its time is parsed once.
        if entry_at is not self._last_at:
            try:
                self._last_ts = datetime.fromisoformat(entry_at).timestamp()
            except (TypeError, ValueError):
                return
            self._last_at = entry_at
        self.lag.observe((), max(0.0, self._now() - self._last_ts))

    def job_succeeded(self, job: str) -> None:
        self._job_success[job] = self._now()

    def watch_connections(self, count: Callable[[], int]) -> None:
        self._connections = count

    async def exposition(self) -> bytes:
        await self._refresh_outboxes()
        return generate_latest(self.registry)

    # --- scrape time ----------------------------------------------------------------------
    async def _refresh_outboxes(self) -> None:
        async with self._refresh_lock:
            if time.monotonic() - self._outboxes.read_at < SCRAPE_DB_EVERY:
                return
            figures = OutboxFigures()
            try:
                async with asyncio.timeout(SCRAPE_DB_TIMEOUT):
                    await self._read_outboxes(figures)
                figures.ok = True
            except Exception as exc:  # the endpoint answers even when the database does not
                log.warning("metrics: outboxes not read", extra={"error": type(exc).__name__})
            figures.read_at = time.monotonic()
            self._outboxes = figures

    async def _read_outboxes(self, figures: OutboxFigures) -> None:
        waiting = ("pending", "sending")
        outboxes: dict[str, Any] = {
            "mail": (mail_outbox, mail_outbox.c.state.in_(waiting), mail_outbox.c.state == "dead"),
            # Messages and receipts (MDN) going out to the MSSanté operator.
            "mssante": (mss_message, mss_message.c.state.in_(waiting), mss_message.c.state == "dead"),
        }
        now = datetime.now(UTC)
        async with self._db.engine.connect() as conn:
            await conn.execution_options(**{READ_ONLY: True})
            for name, (table, queued, dead) in outboxes.items():
                figures.depth[name] = int((await conn.execute(_capped_count(table, queued))).scalar_one())
                figures.dead[name] = int((await conn.execute(_capped_count(table, dead))).scalar_one())
                oldest = (await conn.execute(select(func.min(table.c.created_at)).where(queued))).scalar_one()
                figures.oldest_age[name] = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("chevet_build_info", "The running version of Chevet", labels=["version"])
        info.add_metric([self._version], 1)
        yield info
        yield GaugeMetricFamily("chevet_realtime_connections", "Live realtime (WebSocket) connections of this process",
                                value=self._connections())
        yield self.requests.family()
        yield self.batches.family()
        yield self.lag.family()
        yield from self._outbox_families()
        jobs = GaugeMetricFamily("chevet_job_last_success_timestamp_seconds",
                                 "When each background job of this process last ended a round without error",
                                 labels=["job"])
        for job, at in sorted(self._job_success.items()):
            jobs.add_metric([job], at)
        yield jobs
        yield from self._pool_families()
        yield from self._key_provider_families()

    def _outbox_families(self) -> Iterator[Metric]:
        o = self._outboxes
        yield GaugeMetricFamily("chevet_metrics_database_up",
                                "Whether the last scrape-time read of the outboxes succeeded", value=1 if o.ok else 0)
        depth = GaugeMetricFamily("chevet_outbox_depth",
                                  f"Items waiting in a durable outbox (pending or being sent; at most {OUTBOX_CAP})",
                                  labels=["outbox"])
        age = GaugeMetricFamily("chevet_outbox_oldest_age_seconds",
                                "Age of the oldest item waiting in a durable outbox (0 when empty)", labels=["outbox"])
        dead = GaugeMetricFamily("chevet_outbox_dead_letters",
                                 f"Items given up for good (dead letters) in a durable outbox (at most {OUTBOX_CAP})",
                                 labels=["outbox"])
        for name in sorted(o.depth):
            depth.add_metric([name], o.depth[name])
            age.add_metric([name], o.oldest_age[name])
            dead.add_metric([name], o.dead[name])
        yield depth
        yield age
        yield dead

    def _pool_families(self) -> Iterator[Metric]:
        pool: Any = self._db.engine.pool
        kind = "sqlite" if self._db.is_sqlite else "postgresql"
        checked_out = GaugeMetricFamily("chevet_db_pool_checked_out",
                                        "Database connections in use by this process", labels=["database"])
        size = GaugeMetricFamily("chevet_db_pool_size",
                                 "Connections the pool keeps open", labels=["database"])
        limit = GaugeMetricFamily("chevet_db_pool_max",
                                  "Connections the pool may open at most (size and overflow)", labels=["database"])
        try:
            checked_out.add_metric([kind], pool.checkedout())
            size.add_metric([kind], pool.size())
            limit.add_metric([kind], pool.size() + max(0, getattr(pool, "_max_overflow", 0)))
        except AttributeError:  # a pool class without these figures: nothing to say
            pass
        yield checked_out
        yield size
        yield limit

    def _key_provider_families(self) -> Iterator[Metric]:
        down = dict(self._providers_down())
        up = GaugeMetricFamily("chevet_key_provider_up",
                               "1 when no organisation's last call to this key provider failed, else 0",
                               labels=["provider"])
        orgs = GaugeMetricFamily("chevet_key_provider_organisations_down",
                                 "Organisations whose last call to this key provider failed", labels=["provider"])
        for name in sorted({*self._providers, *down}):
            n = int(down.get(name, 0))
            up.add_metric([name], 0 if n else 1)
            orgs.add_metric([name], n)
        yield up
        yield orgs


class MetricsTokenError(Exception):
    """The metrics token file is missing, readable by others, or too short."""


TOKEN_MIN_CHARS = 32


def read_token(path: Path) -> str:
    """The bearer token of ``GET /metrics``: the file's first line, from a file only its owner
    may read or write (mode 0600 or stricter), at least ``TOKEN_MIN_CHARS`` characters."""
    try:
        mode = path.stat().st_mode
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise MetricsTokenError(f"metrics.token_file: cannot read {path}") from exc
    if not stat.S_ISREG(mode) or mode & 0o077:
        raise MetricsTokenError(f"metrics.token_file: {path} must be a file readable by its owner only "
                                f"(chmod 600 {path})")
    if len(token) < TOKEN_MIN_CHARS or any(c.isspace() for c in token):
        raise MetricsTokenError(f"metrics.token_file: the token must be one word of {TOKEN_MIN_CHARS} characters "
                                "or more (e.g. openssl rand -hex 32)")
    return token
