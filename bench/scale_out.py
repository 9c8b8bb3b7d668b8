"""What the Celery executor costs on one machine (issue 7): the same `ml-assets run` with every
step in-process (the default) and with every step shipped through Redis to a `dagster-celery`
worker (2 slots) on this machine.

Both start from the same landed files and a fresh ML_ASSETS_HOME each round (SQLite Dagster
instance and MLflow store under it). The difference, divided by the steps, is the per-step
price of distribution: a Celery round trip, an instance reload and a job reconstruction in the
worker. It buys steps on other machines; on one 2-core box it is pure overhead.
Needs Redis at 127.0.0.1:6379 (the broker, database 14).
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from common import ROOT, WORK, report, side_by_side

DAYS = 3
ROWS_PER_DAY = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
END = date(2026, 11, 30)
BROKER = "redis://127.0.0.1:6379/14"
STEPS = DAYS * 2 + 3  # ingestion + cleaned_features per day; trained_model, model_evaluation, registered_model
BIN = Path(sys.executable).parent


def home_env(name: str) -> dict[str, str]:
    home = WORK / name
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_ASSETS", "MLFLOW", "DAGSTER"))}
    env.update(ML_ASSETS_HOME=str(home), ML_ASSETS_LANDING_DIR=str(WORK / "landing"), ML_ASSETS_AUTOMATION="off")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


CELERY = {"ML_ASSETS_EXECUTOR": "celery", "ML_ASSETS_CELERY_BROKER": BROKER}
ROUNDS = iter(range(1_000_000))


def run(extra: dict[str, str]) -> None:
    # A new home every round, never a deleted-and-recreated one: the worker's processes keep their
    # SQLite connections open, and a recreated file at the same path is a different database.
    env = {**home_env(f"home-{next(ROUNDS)}"), **extra}
    shutil.rmtree(env["ML_ASSETS_HOME"], ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "ml_assets.cli", "run", "--no-seed", "--jobs", "1"],
        env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def start_worker() -> subprocess.Popen:
    config = WORK / "celery.yaml"
    config.write_text(f"execution:\n  config:\n    broker: {BROKER}\n    backend: {BROKER}\n")
    log = WORK / "worker.log"
    # The worker CLI writes its Celery config under an instance root; the steps themselves open
    # the instance named in each task message (the run's SQLite instance under ML_ASSETS_HOME).
    worker_home = WORK / "worker-dagster"
    worker_home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(config),
         "-n", "bench", "--", "--concurrency", "2"],
        env={**home_env("worker"), **CELERY, "DAGSTER_HOME": str(worker_home)}, cwd=ROOT,
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while " ready." not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Celery worker did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)
    return proc


def main() -> str:
    from ml_assets import dataset

    landing = WORK / "landing"
    shutil.rmtree(landing, ignore_errors=True)
    dataset.write_demo_data(landing, DAYS, ROWS_PER_DAY, "parquet", end_date=END)
    worker = start_worker()
    try:
        times = side_by_side(
            {
                "steps in-process (default)": lambda: run({}),
                "steps on a Celery worker": lambda: run(CELERY),
            },
            REPEATS,
        )
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
    extra = statistics.median(times["steps on a Celery worker"]) - statistics.median(
        times["steps in-process (default)"]
    )
    return (
        report(f"`ml-assets run`, {DAYS * ROWS_PER_DAY:,} rows ({DAYS} days), {STEPS} steps", times,
               "steps in-process (default)")
        + f"\n\nPer-step cost of the Celery hand-off: {extra / STEPS:.2f} s (median difference / {STEPS} steps)."
    )  # fmt: skip


if __name__ == "__main__":
    print(main())
