"""INFO replication, with Redis 7.0's fields in Redis's order (Sentinel parses them)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentrykv_server.server import Server

Fields = list[tuple[str, Any]]


def section_replication(s: Server) -> Fields:
    from sentrykv_server.replication.replica import CONNECTED, LOADING, TRANSFER

    repl = s.repl
    cfg = s.config
    now = time.time()
    fields: Fields = []
    if not repl.is_replica:
        fields.append(("role", "master"))
    else:
        link = repl.link
        up = link is not None and link.state == CONNECTED
        offset = repl.offset if repl.backlog is not None else 1
        fields += [
            ("role", "slave"),
            ("master_host", repl.master_host),
            ("master_port", repl.master_port),
            ("master_link_status", "up" if up else "down"),
            ("master_last_io_seconds_ago", int(now - link.last_io) if up and link is not None else -1),
            ("master_sync_in_progress", int(link is not None and link.state in (TRANSFER, LOADING))),
            ("slave_read_repl_offset", offset),
            ("slave_repl_offset", offset),
        ]
        if link is not None and link.state == TRANSFER:
            total = link.size if link.size >= 0 else -1
            left = total - link.read if total >= 0 else -1
            perc = 100.0 * link.read / total if total > 0 else 0.0
            fields += [
                ("master_sync_total_bytes", total),
                ("master_sync_read_bytes", link.read),
                ("master_sync_left_bytes", left),
                ("master_sync_perc", f"{perc:.2f}"),
                ("master_sync_last_io_seconds_ago", int(now - link.last_io)),
            ]
        if not up:
            fields.append(("master_link_down_since_seconds", int(now - repl.down_since) if repl.down_since else -1))
        fields += [
            ("slave_priority", cfg.value("replica-priority")),
            ("slave_read_only", int(bool(cfg.value("replica-read-only")))),
            ("replica_announced", int(bool(cfg.value("replica-announced")))),
        ]
    fields.append(("connected_slaves", len(repl.replicas)))
    if cfg.value("min-replicas-to-write") and cfg.value("min-replicas-max-lag"):
        fields.append(("min_slaves_good_slaves", repl.good_replicas))
    for i, r in enumerate(repl.replicas):
        fields.append((f"slave{i}", f"ip={r.ip},port={r.listening_port},state={r.state},"
                                    f"offset={r.ack_off},lag={r.lag(now)}"))
    backlog = repl.backlog
    fields += [
        ("master_failover_state", repl.failover.state if repl.failover is not None else "no-failover"),
        ("master_replid", repl.replid),
        ("master_replid2", repl.replid2),
        ("master_repl_offset", repl.offset),
        ("second_repl_offset", repl.second_offset),
        ("repl_backlog_active", int(backlog is not None)),
        ("repl_backlog_size", cfg.value("repl-backlog-size")),
        ("repl_backlog_first_byte_offset", backlog.first_byte_offset if backlog is not None else 0),
        ("repl_backlog_histlen", min(backlog.histlen, backlog.size) if backlog is not None else 0),
    ]
    return fields


def stats_fields(s: Server) -> dict[str, Any]:
    """The replication counters of INFO stats."""
    repl = s.repl
    return {
        "total_net_repl_input_bytes": repl.net_input,
        "total_net_repl_output_bytes": repl.net_output,
        "sync_full": repl.sync_full,
        "sync_partial_ok": repl.sync_partial_ok,
        "sync_partial_err": repl.sync_partial_err,
    }
