"""Replication in Redis's protocol (Redis's replication.c), split by concern.

  state.py      the server's replication state: role, replication IDs and offsets,
                the backlog, the stream fed from every committed unit, the gates
  stream.py     ops -> the bytes of the replication stream (SELECT, MULTI/EXEC)
  backlog.py    the replication backlog (partial resynchronisation)
  marker.py     the replication ID/offset stored in every WAL frame (psync2 across restarts)
  master.py     the master's side of one replica: PSYNC, acks, output
  fullsync.py   a point-in-time view streamed to a replica in RDB format, never blocking
  replica.py    the replica's side: the connection to the master, handshake, PSYNC
  loader.py     a full sync's RDB -> fresh dicts and a snapshot (in a thread), then the swap
  applier.py    the master's stream applied on a replica, unit by unit, into its own WAL
  waits.py      WAIT and WAITAOF (local fsync and replicas' acknowledgements)
  failover.py   FAILOVER (coordinated switch with a replica)
  commands.py   REPLICAOF/SLAVEOF, REPLCONF, PSYNC, SYNC, ROLE, WAIT, WAITAOF, FAILOVER
  info.py       INFO replication

See docs/replication.md for the guarantees.
"""
