"""Server lifecycle (uvicorn's server.py; Redis's server.c main loop parts).

Owns the keyspace, the clients, the persistence layer and the background
tasks, and implements the once-per-loop-pass flush point (Redis's
beforeSleep): first the write-ahead log buffered during this pass is handed
to the OS with one write(), then every client with pending replies is
flushed.  Under ``appendfsync always`` replies are held until the group
commit task reports their LSN durable.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from typing import TYPE_CHECKING, Any, cast

from sentrykv_server import REDIS_COMPAT_VERSION, __version__, buildinfo, notify
from sentrykv_server.commands.registry import COMMANDS, LOOKUP, Command, total_calls
from sentrykv_server.config import Config, ConfigError
from sentrykv_server.stats import SlowLog, Stats
from sentrykv_server.store.expire import active_expire_cycle
from sentrykv_server.store.keyspace import Keyspace
from sentrykv_server.tracking import Tracking

if TYPE_CHECKING:
    from sentrykv_server.persistence.durability import Durability
    from sentrykv_server.protocol.connection import Client

log = logging.getLogger("sentrykv")

_NO_LIMIT = 1 << 62


class OutputLimit:
    """One class of ``client-output-buffer-limit``: hard bytes, soft bytes for N seconds."""

    __slots__ = ("hard", "soft", "soft_seconds")

    def __init__(self, hard: int, soft: int, soft_seconds: int) -> None:
        self.hard, self.soft, self.soft_seconds = hard, soft, soft_seconds


def command_tables(renames: list[tuple[str, str]]) -> tuple[dict[bytes, Command], dict[str, Command]]:
    """``rename-command old new`` (new "" removes the command) applied to copies of the
    registry's lookup tables; without renames the registry's own tables are used."""
    if not renames:
        return LOOKUP, COMMANDS
    names = dict(COMMANDS)
    for old, new in renames:
        cmd = names.pop(old.lower(), None)
        if cmd is None:
            raise ConfigError("rename-command", "No such command in rename-command")
        if new:
            if new.lower() in names:
                raise ConfigError("rename-command", "Target command name already exists")
            names[new.lower()] = cmd
    table: dict[bytes, Command] = {}
    for name, cmd in names.items():
        raw = name.encode("utf-8", "surrogateescape")
        table[raw] = table[raw.upper()] = cmd
    return table, names


def parse_output_limits(text: str) -> dict[str, OutputLimit]:
    from sentrykv_server.config import parse_memory

    words = text.split()
    if len(words) % 4:
        raise ConfigError("client-output-buffer-limit", "Wrong number of arguments in buffer limit configuration.")
    limits = {}
    for i in range(0, len(words), 4):
        cls = words[i].lower()
        if cls == "replica":
            cls = "slave"
        if cls not in ("normal", "slave", "pubsub"):
            raise ConfigError("client-output-buffer-limit", "Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft, seconds = parse_memory(words[i + 1]), parse_memory(words[i + 2]), int(words[i + 3])
            if hard < 0 or soft < 0 or seconds < 0:
                raise ValueError(words[i:i + 4])
            limits[cls] = OutputLimit(hard, soft, seconds)
        except ValueError:
            raise ConfigError("client-output-buffer-limit", "Error in hard, soft or soft_seconds setting in buffer limit configuration.") from None
    return limits


class Server:
    """The running server: state shared by every connection and background task."""

    def __init__(self, config: Config) -> None:
        from sentrykv_server.blocking import BlockingRegistry
        from sentrykv_server.commands import load_all
        from sentrykv_server.eviction import Evictor
        from sentrykv_server.memory import Accounting
        from sentrykv_server.pause import ClientPause
        from sentrykv_server.pubsub import PubSub

        load_all()
        self.config = config
        self.keyspace = Keyspace(config.databases)
        self.keyspace.on_expire = self._on_expire
        self.clients: dict[int, Client] = {}
        self.stats = Stats()
        self.slowlog = SlowLog(config.slowlog_max_len)
        self.slowlog_threshold_us: int = config.slowlog_log_slower_than
        self.monitors: list[Client] = []
        self.pubsub = PubSub(self)
        self.blocking = BlockingRegistry(self)
        # Keyspace notifications (notify.py): the effective notify-keyspace-events mask,
        # 0 when nothing can be delivered (the one test hot commands make).
        self.notify_flags = 0
        self.tracking = Tracking(self)
        self.keyspace.key_ready_hook = self.blocking.key_ready
        # Write-ahead logging: ops produced by the running command, committed as one frame.
        self.ops: list[tuple[int, list[bytes]]] = []
        self.aof: Durability | None = None
        self.last_lsn = 0
        self.fsync_always = False
        # Server-wide refusals (see dispatch.py): ``gated`` is what the hot path tests.
        self._write_error: str | None = None
        # The script that ran past busy-reply-threshold (scripting/busy.py), while it runs.
        self._busy_script: Any = None
        self.gated = False
        self.lua_engine: Any = None  # scripting.runtime.LuaEngine, created by the first script
        self.functions: Any = None  # scripting.functions.Libraries (FUNCTION LOAD & co)
        self.holding: set[Client] = set()
        self.max_held_bytes = 64 * 1024 * 1024
        self.output_limits = parse_output_limits(config.client_output_buffer_limit)
        self._soft_since: dict[int, float] = {}
        self._flush_list: list[Client] = []
        self._flush_scheduled = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.unixtime = int(time.time())
        self.started = time.time()
        self.shutdown_requested: asyncio.Event | None = None
        self.shutdown_save: bool | None = None
        from sentrykv_server.shutdown import ShutdownControl

        self.shutdown_ctl = ShutdownControl(self)
        self.exit_code = 0
        self.listeners: list[asyncio.AbstractServer] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.lastsave = int(time.time())
        self.recovery_info: dict[str, Any] = {}
        self.checkpointer: Any = None
        # Set by a running checkpoint: called before every write command with its argv so
        # containers about to be mutated in place are preserved first (see persistence/).
        self.cow_guard: Any = None
        self.cow_views: list[Any] = []  # the point-in-time views those hooks serve
        self.metrics: Any = None  # sentrykv_server.metrics.Metrics with --metrics-port
        self.run_id = os.urandom(20).hex()
        self.port = config.port
        from sentrykv_server.acl import Acl

        self.acl = Acl(self)
        config.user_lines = self.acl.config_lines
        # The dispatch tables: the registry's, unless rename-command changed names.
        self.lookup_table, self.command_names = command_tables(config.renamed_commands)
        # Memory: used_memory (memory.py, its baseline measured now, before any data is
        # loaded), maxmemory and eviction (eviction.py), CLIENT PAUSE (pause.py).
        self.memory = Accounting(self)
        self.evictor = Evictor(self)
        self.pause = ClientPause(self)
        # Replication (replication/): the stream feed and the WAL position marker are
        # None unless replication offsets are kept; ``repl_durable`` is a replica's FACK hook.
        self.repl_feed: Any = None
        self.repl_mark: Any = None
        self.repl_durable: Any = None
        from sentrykv_server.replication.state import Replication

        self.repl = Replication(self)
        self._install_config_hooks()
        self.evictor.configure()

    # -- configuration hooks -------------------------------------------------------------
    def _install_config_hooks(self) -> None:
        cfg = self.config

        def set_slowlog_threshold(v: int) -> None:
            self.slowlog_threshold_us = v

        def set_output_limits(v: str) -> None:
            self.output_limits = parse_output_limits(v)

        cfg.on_change("slowlog-log-slower-than", set_slowlog_threshold)
        cfg.on_change("slowlog-max-len", self.slowlog.resize)
        cfg.on_change("client-output-buffer-limit", set_output_limits)
        cfg.on_change("appendonly", self._set_appendonly)
        cfg.on_change("appendfsync", self._set_appendfsync)
        cfg.on_change("maxmemory", lambda _v: self.evictor.maxmemory_changed())
        for name in ("maxmemory-policy", "maxmemory-samples", "maxmemory-eviction-tenacity",
                     "lfu-log-factor", "lfu-decay-time"):
            cfg.on_change(name, lambda _v: self.evictor.configure())
        cfg.on_change("notify-keyspace-events", lambda flags: notify.configure(self, flags))
        notify.configure(self, cfg.value("notify-keyspace-events"))

    def _set_appendonly(self, enabled: bool) -> None:
        if enabled and self.aof is None:
            from sentrykv_server.persistence.durability import Durability

            self.aof = Durability.start_fresh(self)
        elif not enabled and self.aof is not None:
            aof, self.aof = self.aof, None
            aof.detach()
        self.fsync_always = self.aof is not None and self.config.appendfsync == "always"

    def _set_appendfsync(self, policy: str) -> None:
        if self.aof is not None:
            self.aof.set_policy(policy)
        self.fsync_always = self.aof is not None and policy == "always"
        if not self.fsync_always and self.holding:
            self.release_held()

    # -- gates checked by dispatch -------------------------------------------------------
    @property
    def write_error(self) -> str | None:
        """MISCONF text while the log cannot be written: writes are refused."""
        return self._write_error

    @write_error.setter
    def write_error(self, message: str | None) -> None:
        self._write_error = message
        self.refresh_gates()

    @property
    def busy_script(self) -> Any:
        """The RunCtx of a script running past busy-reply-threshold: others get -BUSY."""
        return self._busy_script

    @busy_script.setter
    def busy_script(self, ctx: Any) -> None:
        self._busy_script = ctx
        self.refresh_gates()

    def refresh_gates(self) -> None:
        """Recompute ``gated``: True sends every command through dispatch's checks
        (the disk-error gate, a slow script, maxmemory near or above its limit, a client
        pause, replication's gates: read-only replica, min-replicas, stale data)."""
        self.gated = (self._write_error is not None or self._busy_script is not None
                      or self.evictor.near or self.pause.kind != 0 or self.repl.gated)

    def paused(self) -> bool:
        """CLIENT PAUSE is in force (checkClientPauseTimeoutAndReturnIfPaused)."""
        return self.pause.kind != 0 and self.pause.active

    # -- write-ahead log -----------------------------------------------------------------
    def propagate(self, db: int, argv: list[bytes]) -> None:
        """Record the deterministic effect of the running command (one frame per command)."""
        if self.aof is not None or self.repl_feed is not None:
            self.ops.append((db, argv))

    def commit_ops(self, client: Client | None) -> None:
        """Close the current frame: every op of one command (or one EXEC) goes in together."""
        ops = self.ops
        self.ops = []
        if self.repl_feed is not None:  # first: a WAL frame's marker then includes this unit
            self.repl_feed(ops, client)
        aof = self.aof
        if aof is not None:
            lsn = self.last_lsn = aof.append(ops)
            if client is not None:
                client.wait_lsn = lsn
        if not self._flush_scheduled:
            self.schedule_pass()

    def _on_expire(self, db_index: int, key: bytes) -> None:
        """A key's TTL passed (lazy or active expiry): log its DEL, raise 'expired'."""
        self.ops.append((db_index, [b"DEL", key]))
        if self.notify_flags:
            notify.notify(self, notify.EXPIRED, b"expired", self.keyspace.dbs[db_index], key)

    def reply_threshold(self) -> int:
        """Replies depending on LSNs above this may not leave yet."""
        aof = self.aof
        if aof is None:
            return _NO_LIMIT
        return aof.durable_lsn if self.fsync_always else aof.written_lsn

    # -- the per-pass flush point --------------------------------------------------------
    def schedule_flush(self, client: Client) -> None:
        if not client.queued:
            client.queued = True
            self._flush_list.append(client)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            assert self.loop is not None
            self.loop.call_soon(self.flush_pass)

    def schedule_pass(self) -> None:
        if not self._flush_scheduled and self.loop is not None:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush_pass)

    def flush_pass(self) -> None:
        """beforeSleep: one write() of the log, then every client's replies."""
        if self.tracking.bcast_pending:  # BCAST invalidations of this pass (beforeSleep)
            self.tracking.broadcast()
        self._flush_scheduled = False
        evictor = self.evictor
        if evictor.maxmemory:  # re-cost what this pass changed, then the maxmemory gate
            if self.keyspace.unsettled:
                self.keyspace.settle()
            evictor.refresh()
        aof = self.aof
        if aof is not None:
            aof.write_pass()
        repl = self.repl
        if repl.pending or repl.get_ack:
            repl.flush_stream()
        threshold = self.reply_threshold()
        if self.holding:
            self.release_held(threshold)
        clients = self._flush_list
        if clients:
            self._flush_list = []
            for client in clients:
                client.flush(threshold, True)
        if aof is not None:
            aof.after_pass()

    def release_held(self, threshold: int | None = None) -> None:
        """Durability advanced: send every held reply whose LSN is covered, in order."""
        if threshold is None:
            threshold = self.reply_threshold()
        for client in list(self.holding):
            if client.release(threshold):
                self.holding.discard(client)

    @property
    def flush_pending(self) -> bool:
        """A flush pass is scheduled: replies are about to leave (checkpoint slices yield to it)."""
        return self._flush_scheduled

    @property
    def soft_limited(self) -> bool:
        """Some client is over its soft output limit (its clock is running)."""
        return bool(self._soft_since)

    def output_limit_exceeded(self, client: Client, size: int) -> bool:
        """client-output-buffer-limit: a client that does not read is disconnected."""
        cls = "pubsub" if (client.channels or client.patterns or client.shard_channels) else "normal"
        if client.replica_link is not None:
            cls = "slave"
        limit = self.output_limits.get(cls)
        if limit is None or size == 0:
            self._soft_since.pop(client.id, None)
            return False
        if limit.hard and size > limit.hard:
            log.warning("client %s closed for overcoming of output buffer limits (%s)", client.addr, cls)
            return True
        if limit.soft and size > limit.soft:
            since = self._soft_since.setdefault(client.id, time.monotonic())
            if time.monotonic() - since >= limit.soft_seconds:
                log.warning("client %s closed for overcoming of output buffer soft limit (%s)", client.addr, cls)
                return True
        else:
            self._soft_since.pop(client.id, None)
        return False

    # -- clients -------------------------------------------------------------------------
    def client_connected(self, client: Client) -> None:
        self.clients[client.id] = client
        self.stats.connections_received += 1

    def client_disconnected(self, client: Client) -> None:
        self.clients.pop(client.id, None)
        self.holding.discard(client)
        if client.replica_link is not None:
            from sentrykv_server.replication.master import replica_gone

            replica_gone(self.repl, client)
        self._soft_since.pop(client.id, None)
        if client.monitor and client in self.monitors:
            self.monitors.remove(client)
        self.pubsub.forget(client)
        self.pause.forget(client)
        self.blocking.forget(client)
        if client.tracking is not None:
            self.tracking.disable(client)
        if client.watched:
            from sentrykv_server.commands.transactions import unwatch_all

            unwatch_all(client)

    def feed_monitors(self, client: Client, argv: list[bytes], cmd: Command | None = None) -> None:
        """MONITOR: every command but the administrative ones (Redis hides those, e.g.
        ACL SETUSER and CONFIG SET, whose arguments may hold secrets)."""
        from sentrykv_server.acl_table import table
        from sentrykv_server.protocol.reply import encode

        if cmd is None:
            cmd = self.find_command(argv[0])
        entry = table().resolve(cmd.name, argv) if cmd is not None else None
        if entry is not None and "admin" in entry.flags:
            return
        now = time.time()
        words = " ".join('"' + _monitor_escape(a) + '"' for a in argv)
        line = f"{now:.6f} [{client.db.id} {client.addr}] {words}"
        for mon in list(self.monitors):
            if mon is client:
                continue
            out = bytearray()
            encode(out, line, mon.resp3)
            mon.push(bytes(out))

    # -- lifecycle -----------------------------------------------------------------------
    def find_command(self, name: bytes) -> Command | None:
        """The command a client means by ``name`` (any letter case, renames applied)."""
        cmd = self.lookup_table.get(name)
        if cmd is None:
            cmd = self.command_names.get(name.decode("latin-1").lower())
        return cmd

    async def serve(self) -> int:
        self.loop = asyncio.get_running_loop()
        self.shutdown_requested = asyncio.Event()
        config = self.config
        from sentrykv_server.acl import StartupError

        try:
            self.acl.load_at_startup()
        except StartupError as exc:
            log.critical("%s", exc)
            raise SystemExit(1) from None
        directory = os.path.abspath(config.dir)
        os.makedirs(directory, exist_ok=True)
        self.recover(directory)
        self.fsync_always = self.aof is not None and config.appendfsync == "always"
        self.shutdown_ctl.install()  # SIGTERM / SIGINT (see shutdown.py)
        await self._listen()
        self._banner(directory)
        self.tasks.append(asyncio.create_task(self._cron(), name="cron"))
        if self.aof is not None:
            self.aof.start()
        self._start_extras()
        self.repl.start()
        await self.shutdown_requested.wait()
        await self.shutdown()
        return self.exit_code

    def _start_extras(self) -> None:
        """The Prometheus endpoint and the checkpointer."""
        if self.config.metrics_port:
            from sentrykv_server.metrics import Metrics

            self.metrics = Metrics(self)
            try:
                self.metrics.start(self.config.bind.split()[0].lstrip("-"), self.config.metrics_port)
            except OSError as exc:
                log.critical("Could not start the metrics endpoint on port %d: %s",
                             self.config.metrics_port, exc.strerror)
                raise SystemExit(1) from None
        from sentrykv_server.persistence.checkpoint import Checkpointer

        self.checkpointer = Checkpointer(self)
        self.checkpointer.start()

    def recover(self, directory: str) -> None:
        """Load the snapshot and replay the write-ahead log before accepting clients."""
        from sentrykv_server.persistence.durability import Durability, RecoveryFailed

        try:
            self.repl.configure_from_config()
            self.aof = Durability.recover(self, directory, enabled=self.config.appendonly)
        except RecoveryFailed as exc:
            log.critical("%s", exc)
            raise SystemExit(1) from None
        # The loaders fill the dicts directly: share short values and account for what
        # they loaded, once.
        self.keyspace.recount(share_loaded=True)
        self.evictor.configure()
        self.repl.after_recovery()

    async def _listen(self) -> None:
        assert self.loop is not None
        config = self.config
        from sentrykv_server.protocol.connection import Client

        hosts = config.bind.split() or ["127.0.0.1"]
        for host in hosts:
            host = host.lstrip("-")
            try:
                srv = await self.loop.create_server(
                    lambda: Client(self), host, config.port,
                    backlog=config.tcp_backlog, reuse_address=True,
                )
            except OSError as exc:
                log.critical("Could not create server TCP listening socket %s:%s: %s", host, config.port, exc.strerror)
                raise SystemExit(1) from None
            self.listeners.append(srv)
            # uvloop's Server.sockets is a list where asyncio's is a tuple (as annotated):
            # read it untyped, the compiled build checks annotated types.
            for sock in cast(Any, srv).sockets:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if config.port == 0:
                    self.port = sock.getsockname()[1]
        if config.tls_port:
            await self._listen_tls(hosts)

    async def _listen_tls(self, hosts: list[str]) -> None:
        """The TLS port, next to (not instead of) the plain one, as in Redis."""
        from sentrykv_server.protocol.connection import Client
        from sentrykv_server.tls import server_context

        assert self.loop is not None
        try:
            ctx = server_context(self.config)
        except ConfigError as exc:
            log.critical("TLS configuration error: %s", exc.reason)
            raise SystemExit(1) from None
        for host in hosts:
            try:
                srv = await self.loop.create_server(
                    lambda: Client(self), host.lstrip("-"), self.config.tls_port, ssl=ctx,
                    backlog=self.config.tcp_backlog, reuse_address=True,
                )
            except OSError as exc:
                log.critical("Could not create TLS listening socket %s:%s: %s", host, self.config.tls_port, exc.strerror)
                raise SystemExit(1) from None
            self.listeners.append(srv)

    def _banner(self, directory: str) -> None:
        loop_name = type(self.loop).__module__.split(".")[0]
        log.info(
            "SentryKV %s (Redis %s compatible) pid=%d listening on %s:%d loop=%s dir=%s appendonly=%s appendfsync=%s",
            __version__, REDIS_COMPAT_VERSION, os.getpid(), self.config.bind, self.port, loop_name,
            directory, "yes" if self.config.appendonly else "no", self.config.appendfsync,
        )
        log.info("%s", buildinfo.describe())
        info = self.recovery_info
        log.info(
            "Recovered %d keys (snapshot entries=%s, wal frames=%s, truncated bytes=%s) in %.3fs",
            self.keyspace.total_keys(), info.get("snapshot_entries", 0), info.get("wal_frames", 0),
            info.get("truncated_bytes", 0), info.get("seconds", 0.0),
        )
        log.info("Ready to accept connections tcp")

    async def _cron(self) -> None:
        """serverCron: clock, active expiry, idle timeouts, ops/sec samples."""
        tick = 0
        while True:
            await asyncio.sleep(1.0 / max(1, self.config.hz))
            tick += 1
            now = time.time()
            self.unixtime = int(now)
            ks = self.keyspace
            ks.tick_clock(now)
            if not self.paused() and active_expire_cycle(ks):
                self.commit_ops(None)
            if ks.unsettled:
                ks.settle()
            self.memory.cron()
            if self.evictor.maxmemory:
                self.evictor.refresh()
            self.evictor.evict_clients()
            self.stats.sample(now, total_calls())
            self.blocking.check_timeouts(now)
            if tick % max(1, self.config.hz) == 0:
                self._close_idle_clients()
                self.repl.cron()
            if self.checkpointer is not None:
                self.checkpointer.cron()

    def _close_idle_clients(self) -> None:
        timeout = self.config.timeout
        if not timeout:
            return
        now = self.unixtime
        for client in list(self.clients.values()):
            if (client.blocked is not None or client.channels or client.patterns or client.monitor
                    or client.replica_link is not None):
                continue
            if now - client.last_seen > timeout:
                log.debug("closing idle client %s", client.addr)
                client.close()

    async def shutdown(self) -> None:
        """Stop accepting, answer what was read, flush persistence, close everything."""
        for srv in self.listeners:
            srv.close()
        # Replicas catch up first (Redis's shutdown-timeout; not with SHUTDOWN NOW): clients
        # are no longer read, replica connections are (their acknowledgements).
        await self.repl.before_shutdown(wait=not self.shutdown_ctl.now)
        self.shutdown_ctl.stop_reading_all()
        self.flush_pass()
        for task in self.tasks:
            task.cancel()
        if self.checkpointer is not None:
            await self.checkpointer.stop(save=bool(self.shutdown_save) or (
                self.shutdown_save is None and self.config.shutdown_checkpoint))
        if self.aof is not None:
            await self.aof.close()
            self.release_held(_NO_LIMIT)
        # Give transports a moment to drain replies already handed to them.
        await asyncio.sleep(0)
        for client in list(self.clients.values()):
            client.close()
        log.info("SentryKV is now ready to exit, bye bye...")


def _monitor_escape(arg: bytes) -> str:
    out = []
    for b in arg:
        if b == 34:
            out.append('\\"')
        elif b == 92:
            out.append("\\\\")
        elif b == 10:
            out.append("\\n")
        elif b == 13:
            out.append("\\r")
        elif b == 9:
            out.append("\\t")
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


def run(config: Config) -> int:
    """Create the loop, run the server to completion, return the exit code."""
    from sentrykv_server.loop import new_event_loop

    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    server = Server(config)
    try:
        return loop.run_until_complete(server.serve())
    finally:
        loop.close()
        sys.stdout.flush()
