"""Wire protocol: request parsing (RESP multibulk via hiredis, inline) and reply encoding."""
