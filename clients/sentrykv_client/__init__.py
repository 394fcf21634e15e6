"""Python client for SentryKV: redis-py plus typed helpers for its durability features.

``SentryKV`` *is* a ``redis.Redis`` (and ``AsyncSentryKV`` a ``redis.asyncio.Redis``),
so every redis-py command, pipeline and ``from_url`` works unchanged; the extra
methods name SentryKV's checkpoint and durability-barrier operations and parse
INFO persistence into a dataclass. Against plain Redis the same methods work
where Redis has the underlying command, and SentryKV-only INFO fields read as None.
"""

from sentrykv_client.aio import AsyncSentryKV
from sentrykv_client.stats import PersistenceStats
from sentrykv_client.sync import SentryKV

__all__ = ["AsyncSentryKV", "PersistenceStats", "SentryKV"]
__version__ = "0.1.0"
