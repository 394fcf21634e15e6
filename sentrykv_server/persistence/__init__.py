"""File-level durability: frame payloads, WAL segments, recovery scan, group commit.

Modules, each with one job:

* :mod:`records`: ops <-> frame payload (RESP arrays ``[db, *argv]``);
* :mod:`wal_format`: the byte layout of segment headers and frames;
* :mod:`wal_writer`: append / write / fsync / rotate segments;
* :mod:`wal_reader`: verify and replay, torn tail vs corruption;
* :mod:`group_commit`: the fsync policy task (always / everysec / no).

See docs/persistence.md for the format and the guarantees.
"""
