"""Lua scripting and functions (Redis's eval.c, script.c, script_lua.c, function_lua.c)."""
