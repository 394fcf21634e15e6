"""Which build runs: the mypyc-compiled hot modules or the pure-Python source.

Why this module exists: the same ``.py`` files are either imported as they are
or compiled by mypyc into C extensions (``setup.py``, docs/build.md).  Python's
path finder prefers an extension module (``.so``) to the ``.py`` beside it, so
once a build put compiled files in the package (a wheel, or the source tree of
an editable install), plain ``import`` would always pick them.  Setting
``SENTRYKV_PURE=1`` in the environment installs :class:`PureSourceFinder`
ahead of the normal finders, which resolves the modules of :data:`COMPILED`
to their ``.py`` source, so the pure build can be run and tested from the same
install.  The check happens in ``sentrykv_server/__init__.py``, before any
submodule is imported.

The same finder guards against stale builds: setup.py records the SHA-256 of
every compiled source in :data:`MANIFEST`; when a ``.py`` no longer matches
(an edit in an editable install, a ``git checkout``), the compiled modules
would silently run the old code, so the whole set is loaded from source
instead (all or nothing: compiled modules type-check the native classes of
their siblings) and the start-up log says why.  ``make`` rebuilds.

This module itself is never compiled (``setup.py`` reads :data:`COMPILED`
from it without importing the package), and it imports only the standard
library.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

#: The modules that setup.py compiles with mypyc (the per-request path:
#: parse -> dispatch -> handler -> reply encoding -> WAL encoding).
COMPILED: tuple[str, ...] = (
    "sentrykv_server.protocol.connection",
    "sentrykv_server.protocol.reply",
    "sentrykv_server.commands.strings",
    "sentrykv_server.commands.registry",
    "sentrykv_server.commands.errors",
    "sentrykv_server.store.keyspace",
    "sentrykv_server.persistence.records",
    "sentrykv_server.persistence.wal_writer",
    "sentrykv_server.persistence.durability",
    "sentrykv_server.dispatch",
    "sentrykv_server.server",
)

#: The environment variable that selects the pure build (at build time in
#: setup.py, at run time here).
PURE_ENV = "SENTRYKV_PURE"

#: Written by setup.py next to the compiled library: module -> SHA-256 of its source.
MANIFEST = "compiled_sources.json"

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

#: Why the pure modules are loaded although compiled ones may exist ("" when they are not).
pure_reason = ""


def pure_requested(environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """True when ``SENTRYKV_PURE`` asks for the pure-Python build ("1", "yes", "true", "on")."""
    env = os.environ if environ is None else environ
    return env.get(PURE_ENV, "").strip().lower() in ("1", "yes", "true", "on")


class PureSourceFinder:
    """A meta path finder that loads the modules of :data:`COMPILED` from their ``.py`` files.

    Placed first on ``sys.meta_path``, it answers only for those names and
    only when a ``.py`` source exists in the package's search path; anything
    else falls through to the ordinary finders.
    """

    def __init__(self, names: Sequence[str] = COMPILED) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in self.names or not path:
            return None
        leaf = fullname.rpartition(".")[2]
        for entry in path:
            source = os.path.join(entry, leaf + ".py")
            if os.path.isfile(source):
                loader = importlib.machinery.SourceFileLoader(fullname, source)
                return importlib.util.spec_from_file_location(fullname, source, loader=loader)
        return None


def source_path(name: str, package_dir: str = _PACKAGE_DIR) -> str:
    """The ``.py`` file of a module of this package."""
    parts = name.split(".")[1:]
    return os.path.join(package_dir, *parts) + ".py"


def file_digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def stale_sources(package_dir: str = _PACKAGE_DIR) -> list[str]:
    """Compiled modules whose ``.py`` changed since the build (empty without a manifest)."""
    try:
        with open(os.path.join(package_dir, MANIFEST)) as f:
            built: dict[str, str] = json.load(f)
    except (OSError, ValueError):
        return []
    stale = []
    for name, digest in built.items():
        try:
            if file_digest(source_path(name, package_dir)) != digest:
                stale.append(name)
        except OSError:  # a wheel installed without sources: nothing to compare
            continue
    return stale


def install_pure_finder() -> bool:
    """Put :class:`PureSourceFinder` first on ``sys.meta_path`` when the pure build must run:
    ``SENTRYKV_PURE`` asks for it, or a compiled module is stale (see the module doc)."""
    global pure_reason
    if pure_requested():
        pure_reason = f"{PURE_ENV}=1"
    else:
        stale = stale_sources()
        if not stale:
            return False
        pure_reason = "compiled modules are stale ({} changed since the build; rebuild: make)".format(
            ", ".join(n.rpartition(".")[2] + ".py" for n in stale))
    if not any(isinstance(f, PureSourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, PureSourceFinder())
    return True


def is_compiled(module: ModuleType) -> bool:
    """True when the module was loaded from a C extension rather than a ``.py`` file."""
    origin = getattr(module, "__file__", None) or ""
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def compiled_modules() -> list[str]:
    """The modules of :data:`COMPILED` that run compiled in this process (imports them)."""
    out = []
    for name in COMPILED:
        module = sys.modules.get(name) or importlib.import_module(name)
        if is_compiled(module):
            out.append(name)
    return out


def build_kind() -> str:
    """``compiled`` (every module of :data:`COMPILED`), ``pure`` (none) or ``partial``."""
    n = len(compiled_modules())
    return "pure" if n == 0 else "compiled" if n == len(COMPILED) else "partial"


def describe() -> str:
    """One line for the start-up log: which build runs and why."""
    mods = compiled_modules()
    if mods:
        return f"build: {build_kind()} ({len(mods)}/{len(COMPILED)} modules compiled with mypyc)"
    why = pure_reason or "no compiled modules installed"
    return f"build: pure Python ({why})"

