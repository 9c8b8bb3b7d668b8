"""Small shared pieces of state handling: JSON sensor cursors and inter-process locks."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import zlib
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


@contextlib.contextmanager
def store_lock(tracking_uri: str, name: str) -> Iterator[None]:
    """An exclusive lock called *name*, held for the block by every process using this MLflow store.

    SQLite: a file lock beside the database. PostgreSQL: an advisory lock in the database itself,
    so processes on other machines respect it too. Any other store (a tracking server) offers no
    lock: the block runs unlocked, and the caller must tolerate a race there.
    """
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///") :])
        db.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(f"{db}.{name}.lock"):
            yield
    elif tracking_uri.startswith("postgresql"):
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        key = zlib.crc32(f"ml_assets:{name}".encode())
        engine = sqlalchemy.create_engine(tracking_uri, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
                try:
                    yield
                finally:
                    conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        finally:
            engine.dispose()
    else:
        yield
