"""Headless one-shot materialization on the configured Dagster instance (what `ml-assets run` does).

Runs go through the instance, so they show in the UI next to those the daemon launches.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ml_assets.errors import LandingZoneError
from ml_assets.settings import Settings


@dataclass
class RunSummary:
    job: str
    partition: str
    status: str
    seconds: float
    run_id: str
    error: str = ""


def prepare_instance_env(settings: Settings) -> None:
    """Point Dagster at the instance under ML_ASSETS_HOME unless DAGSTER_HOME says otherwise."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)


def first_error(result: object) -> str:
    for event in result.all_events:  # type: ignore[attr-defined]
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            err = event.step_failure_data.error
            while err.cause is not None and "Failure" not in err.cls_name:
                err = err.cause
            return f"{event.step_key}: {err.message.strip().splitlines()[0]}"
    return ""


def ingestion_job_def() -> object:
    """The ingestion job, rebuilt from the environment (a target for ``dg.reconstructable``)."""
    from ml_assets.definitions import build_definitions

    return build_definitions().resolve_job_def("ingestion_job")


def training_job_def() -> object:
    """The training job, rebuilt from the environment (a target for ``dg.reconstructable``)."""
    from ml_assets.definitions import build_definitions

    return build_definitions().resolve_job_def("training_job")


def _ingest_one(day: str) -> RunSummary:
    """One day's ingestion run in a worker process (settings come from the inherited environment)."""
    import dagster as dg

    from ml_assets.settings import get_settings

    return _execute(ingestion_job_def, dg.DagsterInstance.get(), day, get_settings().executor)


def materialize_everything(settings: Settings, progress: bool = True, jobs: int = 2) -> list[RunSummary]:
    """Ingest every landed day (one run per partition), then train, evaluate and register."""
    import dagster as dg

    from ml_assets.lib import ingest
    from ml_assets.partitions import landed_days

    days = sorted(ingest.list_landed_files(settings.landing_dir))
    if not days:
        raise LandingZoneError(
            f"landing zone {settings.landing_dir} holds no batch files (*YYYY-MM-DD*.csv|.parquet): "
            "run `ml-assets demo-data` or drop files there"
        )
    instance = dg.DagsterInstance.get()
    existing = set(instance.get_dynamic_partitions(landed_days.name))
    new = [d for d in days if d not in existing]
    if new:
        instance.add_dynamic_partitions(landed_days.name, new)
    summaries: list[RunSummary] = []
    workers = max(1, min(jobs, len(days)))
    if workers == 1:
        for i, day in enumerate(days, 1):
            if progress:
                print(f"[{i}/{len(days)}] ingesting {day} ...", file=sys.stderr, flush=True)
            summaries.append(_execute(ingestion_job_def, instance, day, settings.executor))
    else:
        # days are independent partitions: ingest them side by side, one run each
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = {pool.submit(_ingest_one, day): day for day in days}
            for i, future in enumerate(as_completed(futures), 1):
                summaries.append(future.result())
                if progress:
                    print(f"[{i}/{len(days)}] ingested {futures[future]}", file=sys.stderr, flush=True)
        summaries.sort(key=lambda r: r.partition)
    if progress:
        print("training, evaluating, registering ...", file=sys.stderr, flush=True)
    summaries.append(_execute(training_job_def, instance, None, settings.executor))
    return summaries


def _execute(job_fn: Callable[[], object], instance: object, partition: str | None, executor: str) -> RunSummary:
    """One run on the instance. With the default executor the steps run in this process (fast,
    no per-step interpreter start); with celery or k8s the job is reconstructable and its
    configured executor ships every step to the workers."""
    import dagster as dg

    started = time.monotonic()
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if executor == "multiprocess":
        result = job_fn().execute_in_process(  # type: ignore[attr-defined]
            instance=instance, partition_key=partition, raise_on_error=False, run_config=run_config
        )
        return _summarize(result, partition, started)
    tags = {"dagster/partition": partition} if partition else None
    # dagster-celery registers its step task once per submission; Celery warns about it each time
    warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")
    with dg.execute_job(
        dg.reconstructable(job_fn), instance, run_config=run_config, tags=tags, raise_on_error=False
    ) as result:
        return _summarize(result, partition, started)


def _summarize(result: Any, partition: str | None, started: float) -> RunSummary:
    failed_checks = [
        e.asset_check_evaluation_data.check_name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.asset_check_evaluation_data.passed
        and e.asset_check_evaluation_data.severity.value == "ERROR"
    ]
    status = "SUCCESS" if result.success else "FAILURE"
    error = first_error(result)
    if failed_checks:
        status, error = "BLOCKED", f"blocking check(s) failed: {', '.join(failed_checks)}"
    return RunSummary(
        job=result.job_def.name,
        partition=partition or "-",
        status=status,
        seconds=time.monotonic() - started,
        run_id=result.run_id,
        error=error,
    )


def format_summary(rows: list[RunSummary]) -> str:
    header = ("job", "partition", "status", "seconds", "run id", "error")
    table = [header] + [(r.job, r.partition, r.status, f"{r.seconds:.1f}", r.run_id[:8], r.error[:110]) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    failures = [r for r in rows if r.error]
    if failures:
        lines += ["", "Problems:"]
        lines += [f"- {r.job} {r.partition} (run {r.run_id}): {r.error}" for r in failures]
    return "\n".join(lines)
