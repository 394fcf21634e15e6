"""Redis's RDB format (version 10, Redis 7.0): DUMP payloads and whole dump.rdb files.

Split by concern like Redis's rdb.c and its helpers:

  constants.py  type numbers, opcodes, RdbError
  crc64.py      CRC-64/Jones (payload and file trailers)
  lzf.py        LZF (de)compression of strings
  listpack.py   listpacks;  legacy.py: intsets, ziplists, zipmaps
  source.py     bounded byte sources (payload in memory, file read in chunks)
  decode.py     RDB object -> value (rdbLoadObject), reader registry
  encode.py     value -> RDB object (rdbSaveObject), encoder registry
  stream.py     stream values (listpacks of entries, consumer groups), plain model
  payload.py    DUMP / RESTORE payloads
  rdbfile.py    whole files: header, aux fields, databases, expiries, functions, trailer
  transfer.py   import a file into a data directory, export a data directory to a file
"""

# The stream codec registers itself with decode.READERS / encode.ENCODERS on import.
from sentrykv_server.persistence.rdb import stream as _stream  # noqa: E402,F401
