"""The in-memory dataset: databases, keys, values and expiry (Redis's db.c / expire.c)."""
