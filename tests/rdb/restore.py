"""RESTORE replies as the hostile-payload tests compare them (an error as its text)."""

from __future__ import annotations

import redis


def restore_reply(c: redis.Redis, payload: bytes, key: str) -> bytes | str:
    try:
        return bytes(c.restore(key, 0, payload, replace=True))
    except redis.ResponseError as exc:
        return str(exc)


def deep_reply(ref: redis.Redis, payload: bytes, key: str) -> bytes | str:
    """redis-server's reply with ``sanitize-dump-payload yes`` (SentryKV always validates
    deeply; Redis's default shallow check accepts some damaged structures)."""
    ref.config_set("sanitize-dump-payload", "yes")
    try:
        return restore_reply(ref, payload, key)
    finally:
        ref.config_set("sanitize-dump-payload", "no")
