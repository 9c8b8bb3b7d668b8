"""Small shared pieces of state handling: JSON sensor cursors and an inter-process file lock."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self


class JsonCursor:
    """Mixin for dataclass sensor cursors: a corrupt or missing cursor starts fresh, never crashes."""

    @classmethod
    def load(cls, cursor: str | None) -> Self:
        if not cursor:
            return cls()
        try:
            return cls(**json.loads(cursor))
        except (ValueError, TypeError):
            return cls()

    def dump(self) -> str:
        data: dict[str, Any] = dataclasses.asdict(self)  # type: ignore[call-overload]
        return json.dumps(data, sort_keys=True)


@contextlib.contextmanager
def file_lock(path: Path | str) -> Iterator[None]:
    """An exclusive advisory lock held for the block, across processes on this machine."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
