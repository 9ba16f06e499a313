"""Reading YAML we did not write: bounded in bytes, nesting, aliases and expanded size.

A config file comes from whoever can write to the config directory or POST /v1/reload. YAML
lets a 1 KB file stand for a billion nodes ("billion laughs": aliases of aliases), nest
deeper than Python's recursion limit, or be a FIFO or /dev/zero that a plain read never
finishes. So: regular files only, opened without blocking; a size cap; and a loader that
counts depth, aliases and the expanded node count over the parser's events, before anything is
composed or built. Parsing is libyaml's when PyYAML has it (a 300 KB file: 0.03 s of events,
0.15 s to load, where the pure-Python parser took 1.4 s).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

MAX_FILE_BYTES = 4 * 2**20
MAX_DEPTH = 64  # nesting levels of one document
MAX_ALIASES = 1000  # alias uses in one file
MAX_NODES = 250_000  # nodes of one document with every alias expanded (10,000 SLOs: ~100k)

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class FileRefused(ValueError):
    """A path that is not a readable regular file of a sane size; the message says why."""


def read_regular_file(path: str | Path, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file of at most ``max_bytes``, with its stat.

    Opened non-blocking and checked with fstat on the open descriptor, so a FIFO never blocks
    the open and cannot be swapped in after the check; a device is refused before any read.
    OSError (missing, no permission) passes through.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
            raise FileRefused(f"expected a regular file, got {kind}")
        if st.st_size > max_bytes:
            raise FileRefused(f"{st.st_size} bytes, expected at most {max_bytes}")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise FileRefused(f"more than {max_bytes} bytes, expected at most {max_bytes}")
        return data, st
    finally:
        os.close(fd)


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _refused(problem: str, mark: Any) -> ComposerError:
    return ComposerError(None, None, problem, mark)


def check_limits(text: bytes | str) -> None:
    """Walk the parser's events once (libyaml: ~1 µs each) and refuse, with the place, a
    document nested deeper than MAX_DEPTH, more than MAX_ALIASES aliases, an alias of a
    collection it sits inside (a cycle), or more than MAX_NODES nodes once aliases are
    expanded. Counting sizes per anchor as the events pass costs nothing more than reading."""
    aliases = 0
    open_: list[list[Any]] = [[0, None]]  # [node count, anchor] per open collection
    sizes: dict[str, int] = {}  # anchor -> expanded node count
    for ev in yaml.parse(text, Loader=_Loader):
        size = 0
        if isinstance(ev, yaml.DocumentStartEvent):
            open_, sizes = [[0, None]], {}
        elif isinstance(ev, yaml.ScalarEvent):
            size = 1
            if ev.anchor:
                sizes[ev.anchor] = 1
        elif isinstance(ev, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _refused(f"more than {MAX_ALIASES} aliases", ev.start_mark)
            if any(anchor == ev.anchor for _, anchor in open_):
                raise _refused(
                    f"alias *{ev.anchor} refers to a node that holds it (a cycle)",
                    ev.start_mark,
                )
            size = sizes.get(ev.anchor or "", 1)  # undefined: the loader names it
        elif isinstance(ev, yaml.CollectionStartEvent):
            open_.append([1, ev.anchor])
            if len(open_) > MAX_DEPTH + 1:
                raise _refused(f"nested deeper than {MAX_DEPTH} levels", ev.start_mark)
        elif isinstance(ev, yaml.CollectionEndEvent):
            size, anchor = open_.pop()
            if anchor:
                sizes[anchor] = size
        if size:
            open_[-1][0] += size
            if open_[-1][0] > MAX_NODES:
                raise _refused(
                    f"more than {MAX_NODES} nodes once its aliases are expanded",
                    ev.start_mark,
                )


class LimitedLoader(_Loader):
    """Safe (no arbitrary objects) and strict: a key twice in one mapping is an error
    (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (each key may appear once)",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def load_all(text: bytes | str) -> list[Any]:
    """Every document of ``text``, after check_limits; yaml.YAMLError (with a mark) else."""
    check_limits(text)
    return list(yaml.load_all(text, Loader=LimitedLoader))
