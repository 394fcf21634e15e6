"""Lua scripting (EVAL / FUNCTION) as Redis 7.0 runs it, on lupa's Lua 5.1."""
