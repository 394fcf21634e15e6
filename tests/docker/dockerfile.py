"""A small Dockerfile reader: enough to run the image's command line outside Docker.

There is no Docker engine on the development machines, so the tests read the
Dockerfile's final stage (ENTRYPOINT, CMD, HEALTHCHECK, ENV, WORKDIR, COPY)
and execute exactly that on the host.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def instructions(text: str) -> list[Instruction]:
    """Join continuation lines, drop comments; one Instruction per logical line."""
    result: list[Instruction] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue  # comments inside a continued instruction are dropped by Docker too
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        keyword, _, args = buf.strip().partition(" ")
        result.append(Instruction(keyword.upper(), args.strip()))
        buf = ""
    return result


def stages(text: str) -> list[Stage]:
    args: dict[str, str] = {}
    found: list[Stage] = []
    for ins in instructions(text):
        if ins.keyword == "ARG" and not found:
            name, _, default = ins.args.partition("=")
            args[name] = default
        elif ins.keyword == "FROM":
            base = ins.args.split()[0]
            for name, value in args.items():
                base = base.replace("${" + name + "}", value).replace("$" + name, value)
            found.append(Stage(base))
        elif found:
            found[-1].instructions.append(ins)
    return found


def exec_form(args: str) -> list[str]:
    """ENTRYPOINT/CMD must use the JSON (exec) form so signals reach the server."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def env_pairs(args: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for token in shlex.split(args):
        key, _, value = token.partition("=")
        pairs[key] = value
    return pairs


def copies(stage: Stage) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY that takes files from the build context."""
    result = []
    for ins in stage.all("COPY"):
        words = [w for w in shlex.split(ins.args) if not w.startswith("--chmod") and not w.startswith("--chown")]
        if any(w.startswith("--from") for w in words):
            continue
        *sources, dest = words
        result.append((sources, dest))
    return result


def healthcheck_command(stage: Stage) -> list[str]:
    ins = stage.last("HEALTHCHECK")
    assert ins is not None, "the image must declare a HEALTHCHECK"
    words = ins.args.split()
    while words and words[0].startswith("--"):
        words.pop(0)
    assert words and words[0] == "CMD", ins.args
    return exec_form(ins.args[ins.args.index("CMD") + 3:].strip())


def final_stage() -> Stage:
    return stages(DOCKERFILE.read_text())[-1]
