"""Prometheus endpoint (``--metrics-port``) for what Redis's INFO cannot show.

Redis dashboards read INFO through redis_exporter; SentryKV's INFO keeps
Redis's field names for that.  This endpoint adds the durability metrics
Redis does not have: fsync latency and group-commit batch histograms, the
durable-LSN lag, checkpoint duration and loop pause.  Observations are made
on the event loop; prometheus-client serves them from its own thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sentrykv_server.server import Server

log = logging.getLogger("sentrykv.metrics")

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class _ServerGauges(Collector):
    """Gauges read at scrape time (plain int reads: safe from the exporter thread)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def collect(self) -> Iterator[GaugeMetricFamily]:
        server = self.server
        aof = server.aof
        written = aof.written_lsn if aof is not None else 0
        durable = aof.durable_lsn if aof is not None else 0
        yield GaugeMetricFamily("sentrykv_wal_written_lsn", "Highest LSN handed to the kernel", value=written)
        yield GaugeMetricFamily("sentrykv_wal_durable_lsn", "Highest LSN covered by a completed fsync", value=durable)
        yield GaugeMetricFamily("sentrykv_wal_durable_lag", "Frames written but not yet fsynced", value=written - durable)
        yield GaugeMetricFamily("sentrykv_held_reply_clients", "Clients whose replies wait for an fsync",
                                value=len(server.holding))
        yield GaugeMetricFamily("sentrykv_write_refused", "1 while writes are refused (disk trouble)",
                                value=1 if server.write_error else 0)
        yield GaugeMetricFamily("sentrykv_connected_clients", "Connected clients", value=len(server.clients))


class Metrics:
    """Histograms fed by the group-commit task and the checkpointer."""

    def __init__(self, server: Server) -> None:
        self.registry = CollectorRegistry()
        self.fsync_seconds = Histogram(
            "sentrykv_fsync_seconds", "WAL fsync latency (as seen by the group-commit task)",
            buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.batch_commands = Histogram(
            "sentrykv_group_commit_batch_commands", "Write commands made durable by one fsync",
            buckets=_BATCH_BUCKETS, registry=self.registry)
        self.checkpoint_seconds = Histogram(
            "sentrykv_checkpoint_duration_seconds", "Checkpoint duration, cut to durable snapshot",
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=self.registry)
        self.checkpoint_pause_seconds = Histogram(
            "sentrykv_checkpoint_pause_seconds", "Longest event-loop pause caused by one checkpoint",
            buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_ServerGauges(server))

    def start(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
        log.info("Prometheus metrics on http://%s:%d/metrics", host, port)

    def observe_fsync(self, seconds: float, commands: int | None) -> None:
        self.fsync_seconds.observe(seconds)
        if commands is not None:
            self.batch_commands.observe(commands)

    def observe_checkpoint(self, seconds: float, max_pause: float) -> None:
        self.checkpoint_seconds.observe(seconds)
        self.checkpoint_pause_seconds.observe(max_pause)
