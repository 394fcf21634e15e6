"""The event-loop choice, isolated in one place (like uvicorn's loops/)."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("sentrykv")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when it imports, else asyncio's default loop with a warning."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a declared dependency
        log.warning("uvloop is not available; falling back to the asyncio event loop (slower)")
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
