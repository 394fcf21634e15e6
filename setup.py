"""Build script: compile the hot modules with mypyc when possible, else stay pure Python.

Why a setup.py next to pyproject.toml: the list of C extensions is decided at
build time.  With a working C compiler and mypyc (a build requirement, see
pyproject.toml) the modules of ``sentrykv_server.buildinfo.COMPILED`` become C
extensions beside their ``.py`` sources.  Without a compiler, if mypyc or the
C build fails, or with ``SENTRYKV_PURE=1`` in the environment, the package is
built as pure Python and runs the same code uncompiled.  docs/build.md.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
import sysconfig
import tempfile
from importlib.machinery import EXTENSION_SUFFIXES
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
_info = runpy.run_path(os.path.join(HERE, "sentrykv_server", "buildinfo.py"))
COMPILED: tuple[str, ...] = _info["COMPILED"]
MANIFEST: str = _info["MANIFEST"]
pure_requested = _info["pure_requested"]
file_digest = _info["file_digest"]
source_path = _info["source_path"]


def say(msg: str) -> None:
    print(f"sentrykv build: {msg}", file=sys.stderr, flush=True)


def c_compiler_works() -> bool:
    """Compile and link a tiny extension-like file, as build_ext would."""
    try:
        from setuptools._distutils.ccompiler import new_compiler
        from setuptools._distutils.sysconfig import customize_compiler
    except ImportError:  # pragma: no cover - very old setuptools
        return False
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        say(f"Python.h not found in {include} (install python3-dev)")
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("#include <Python.h>\nint probe(void) { return 0; }\n")
        try:
            cc = new_compiler()
            customize_compiler(cc)
            objs = cc.compile([src], output_dir=tmp, include_dirs=[include])
            cc.link_shared_object(objs, os.path.join(tmp, "probe.so"))
        except Exception as exc:  # CompileError, LinkError, missing executable
            say(f"no working C compiler ({exc.__class__.__name__}: {exc})")
            return False
    return True


class OptionalBuildExt(build_ext):
    """build_ext that compiles in parallel and falls back to pure Python on failure."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if not getattr(self, "parallel", None):
            self.parallel = os.cpu_count() or 1

    def run(self) -> None:
        if not self.extensions:
            return
        try:
            super().run()
        except Exception as exc:  # a compiler error must not make the package uninstallable
            say(f"C build failed ({exc.__class__.__name__}: {exc}); installing pure Python")
            self._remove_outputs()
            return
        self._write_manifest()

    def _write_manifest(self) -> None:
        """Record what was compiled, so a stale build is detected at import (buildinfo.py)."""
        digests = {name: file_digest(source_path(name, os.path.join(HERE, "sentrykv_server")))
                   for name in COMPILED}
        dirs = [os.path.join(self.build_lib, "sentrykv_server")]
        if self.inplace or self.editable_mode:
            dirs.append(os.path.join(HERE, "sentrykv_server"))
        for d in dirs:
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, MANIFEST), "w") as f:
                json.dump(digests, f, indent=1, sort_keys=True)

    def _remove_outputs(self) -> None:
        # A shim module without its shared library would fail at import: drop all of them.
        in_place = bool(self.inplace or self.editable_mode)
        bases = [self.build_lib] + ([HERE] if in_place else [])
        for base in bases:
            manifest = os.path.join(base, "sentrykv_server", MANIFEST)
            if os.path.exists(manifest):
                os.remove(manifest)
        for ext in self.extensions:
            built = os.path.join(self.build_lib, self.get_ext_filename(ext.name))
            for base in bases:
                path = os.path.join(base, os.path.relpath(built, self.build_lib))
                if os.path.exists(path):
                    os.remove(path)
        self.extensions: list[Any] = []


# setup.py also runs for metadata (egg_info, dist_info, sdist): mypyc, which type-checks
# and generates C at the setup() call, runs only for commands that build extensions.
BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "install", "develop"}


def remove_in_tree_build() -> None:
    """A pure build of an editable install must not leave an earlier build's .so files
    beside the sources (the import system would keep preferring them)."""
    pkg = os.path.join(HERE, "sentrykv_server")
    leaves = [os.path.join(pkg, "native__mypyc")]
    leaves += [os.path.join(HERE, *name.split(".")) for name in COMPILED]
    removed = 0
    for leaf in leaves:
        for suffix in EXTENSION_SUFFIXES:
            if os.path.exists(leaf + suffix):
                os.remove(leaf + suffix)
                removed += 1
    if os.path.exists(os.path.join(pkg, MANIFEST)):
        os.remove(os.path.join(pkg, MANIFEST))
    if removed:
        say(f"removed {removed} compiled files of an earlier build from the source tree")


def builds_in_place() -> bool:
    """An editable install or ``build_ext --inplace``: the build's output is the source tree
    (a plain ``pip install .`` also runs here, but must leave the tree as it found it)."""
    args = set(sys.argv[1:])
    return bool(args & {"editable_wheel", "develop", "--inplace", "-i"})


def extensions() -> list[Any]:
    if not BUILD_COMMANDS.intersection(sys.argv[1:]):
        return []
    exts = compiled_extensions()
    if not exts and builds_in_place():
        remove_in_tree_build()
    return exts


def compiled_extensions() -> list[Any]:
    if pure_requested():
        say("SENTRYKV_PURE is set: pure Python build")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        say("mypyc is not available: pure Python build")
        return []
    if not c_compiler_works():
        say("pure Python build")
        return []
    paths = [os.path.join(*name.split(".")) + ".py" for name in COMPILED]
    try:
        exts = mypycify(paths, opt_level=os.environ.get("SENTRYKV_OPT", "3"), multi_file=True,
                        group_name="sentrykv_server.native")
    except (Exception, SystemExit) as exc:  # mypyc reports type errors by exiting
        say(f"mypyc failed ({exc.__class__.__name__}: {exc}); pure Python build")
        shutil.rmtree(os.path.join(HERE, "build"), ignore_errors=True)
        return []
    # The shared library lives inside the package (so an editable install finds
    # it next to the shims); mypyc writes its headers under build/<package>/.
    for ext in exts:
        ext.include_dirs.append(os.path.join("build", "sentrykv_server"))
    say(f"compiling {len(COMPILED)} modules with mypyc")
    return exts


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
