"""What the landing-zone sensor decides, as a plain function of (cursor, files on disk).

Convention for writers: write ``<name>.tmp`` and rename when complete (``*.tmp`` is ignored).
Fallback for writers that cannot: a file is taken only once its size and mtime have not changed
between two looks, and it is at least ``settle_seconds`` old.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from ml_assets import dataset
from ml_assets.lib.state import JsonCursor


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


@dataclass
class LandingState(JsonCursor):
    ingested: dict[str, str] = field(default_factory=dict)  # file name -> content fingerprint
    seen: dict[str, list[float]] = field(default_factory=dict)  # file name -> [size, mtime] at last look
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> why (reported once)


@dataclass
class LandingDecision:
    state: LandingState
    runs: dict[str, str]  # partition key -> run key (content of every file of the day)
    new_skips: dict[str, str]
    waiting: list[str]


def scan(
    landing_dir: Path, state: LandingState, settle_seconds: float = 2.0, now: float | None = None
) -> LandingDecision:
    now = time.time() if now is None else now
    new = LandingState(dict(state.ingested), {}, dict(state.skipped))
    by_day: dict[str, list[Path]] = {}
    new_skips: dict[str, str] = {}
    waiting: list[str] = []
    changed_days: set[str] = set()
    for path in sorted(landing_dir.iterdir()) if landing_dir.exists() else []:
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(".tmp"):
            continue
        key = dataset.partition_key_for(path)
        if key is None:
            reason = (
                f"not a {'/'.join(dataset.FILE_SUFFIXES)} file"
                if path.suffix not in dataset.FILE_SUFFIXES
                else "no valid YYYY-MM-DD date in the name"
            )
            if state.skipped.get(path.name) != reason:
                new_skips[path.name] = reason
            new.skipped[path.name] = reason
            continue
        stat = path.stat()
        look = [float(stat.st_size), float(stat.st_mtime)]
        new.seen[path.name] = look
        if state.seen.get(path.name) != look or now - stat.st_mtime < settle_seconds:
            waiting.append(path.name)  # still being written, or changed since the last look
            continue
        by_day.setdefault(key, []).append(path)
        fp = fingerprint(path)
        if new.ingested.get(path.name) != fp:
            new.ingested[path.name] = fp
            changed_days.add(key)
    runs = {}
    for day in sorted(changed_days):
        combined = hashlib.sha256("|".join(f"{p.name}:{new.ingested[p.name]}" for p in by_day[day]).encode())
        runs[day] = f"landed-{day}-{combined.hexdigest()[:16]}"
    return LandingDecision(new, runs, new_skips, waiting)
