"""Shared helpers: medians, side-by-side timing, and a results line for RESULTS.md."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def side_by_side(named: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Run the contenders interleaved (A B C A B C ...), so machine noise hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in named}
    for i in range(repeats):
        for name, fn in named.items():
            times[name].append(timed(fn))
            print(f"  run {i + 1}/{repeats} {name}: {times[name][-1]:.3f}s", file=sys.stderr, flush=True)
    return times


def report(title: str, times: dict[str, list[float]], baseline: str) -> str:
    base = statistics.median(times[baseline])
    lines = [
        f"### {title}",
        "",
        "| contender | median s | min s | runs | ratio vs " + baseline + " |",
        "|---|---|---|---|---|",
    ]
    for name, values in times.items():
        med = statistics.median(values)
        lines.append(f"| {name} | {med:.3f} | {min(values):.3f} | {len(values)} | {med / base:.2f}x |")
    return "\n".join(lines)


def python_cmd(code: str) -> Callable[[], object]:
    return lambda: subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
