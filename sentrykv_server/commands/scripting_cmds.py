"""EVAL/EVALSHA/SCRIPT and FUNCTION/FCALL: registered by the scripting package (eval.c, functions.c)."""

from __future__ import annotations

from sentrykv_server.scripting import eval as _eval
from sentrykv_server.scripting import functions as _functions

__all__ = ["_eval", "_functions"]
