"""`ml-assets chaos SCENARIO`: reproduce each seed failure against the running platform.

Each scenario acts like the real world would (a file lands, a process dies, a build crashes),
then says what to look for in the UI and how the platform responds.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from ml_assets import dataset
from ml_assets.errors import MLAssetsError
from ml_assets.settings import Settings

SCENARIOS = ("bad-data", "leakage", "train-failure", "serving-down")


def _land(settings: Settings, frame: object, day: str, tag: str) -> str:
    path = settings.landing_dir / f"{dataset.FILE_PREFIX}{day}-{tag}.parquet"
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)  # type: ignore[attr-defined]
    os.replace(tmp, path)
    return str(path)


def _fresh_day(settings: Settings) -> str:
    """A day with no landed file yet (walking back from today), so the chaos batch is its own partition."""
    from ml_assets.lib import ingest

    taken = set(ingest.list_landed_files(settings.landing_dir)) if settings.landing_dir.exists() else set()
    day = datetime.now(UTC).date()
    while day.isoformat() in taken:
        day -= timedelta(days=1)
    return day.isoformat()


def _fresh_batch(settings: Settings) -> tuple[str, Any]:
    """2,000 valid rows for a day with no landed file, none timestamped in the future."""
    day = _fresh_day(settings)
    frame = dataset.generate_chunk(datetime.fromisoformat(day).date(), 0, 2_000)
    now = datetime.now(UTC)
    frame[dataset.TIMESTAMP] = frame[dataset.TIMESTAMP].where(
        frame[dataset.TIMESTAMP] < now, now - timedelta(minutes=5)
    )
    return day, frame


def bad_data(settings: Settings) -> str:
    day, frame = _fresh_batch(settings)
    bad = np.random.default_rng(3).choice(len(frame), 600, replace=False)
    frame.loc[bad[:300], "age"] = -4
    frame.loc[bad[300:], "contract_type"] = "lifetime"
    path = _land(settings, frame, day, "chaos-bad-data")
    return (
        f"landed {path}: 30% of its rows break the contract.\n"
        f"Look for: the landing sensor starts ingestion_job for {day}; raw_data's blocking check "
        "raw_data_contract fails (metadata: failing rules, columns, counts, sample rows); the 600 rows are in "
        "quarantined_rows with their reasons; cleaned_features and training do not run on this day.\n"
        "Response: blocked, and an alert from run_failure_alerts."
    )


def leakage(settings: Settings) -> str:
    day, frame = _fresh_batch(settings)
    frame["churn_flag"] = frame[dataset.LABEL]
    path = _land(settings, frame, day, "chaos-leakage")
    return (
        f"landed {path}: its features carry the label as 'churn_flag'.\n"
        "Look for: cleaned_features' blocking check no_label_in_features fails and names churn_flag; "
        "training excludes the day.\nResponse: blocked, champion kept, alert sent."
    )


def train_failure(settings: Settings) -> str:
    import dagster as dg

    from ml_assets.definitions import build_definitions
    from ml_assets.lib import registry
    from ml_assets.resources.mlflow import MlflowResource

    res = MlflowResource(tracking_uri=settings.mlflow_tracking_uri, artifact_root=settings.mlflow_artifact_root,
                         model_name=settings.model_name)  # fmt: skip
    before = registry.alias_version(res.client(), settings.model_name, registry.CHAMPION)
    job = build_definitions(settings).resolve_job_def("training_job")
    result = job.execute_in_process(
        instance=dg.DagsterInstance.get(),
        run_config={"ops": {"trained_model": {"config": {"learning_rate": -1.0}}}},
        raise_on_error=False,
        tags={"ml_assets/chaos": "train-failure"},
    )
    after = registry.alias_version(res.client(), settings.model_name, registry.CHAMPION)
    kept = (before.version if before else None) == (after.version if after else None)
    return (
        f"ran training_job with an invalid learning rate: run {result.run_id} "
        f"{'failed' if not result.success else 'unexpectedly succeeded'}.\n"
        "Look for: the failed run on trained_model, with the cause in its error; nothing registered.\n"
        f"Response: champion {'kept' if kept else 'CHANGED'} (version {after.version if after else 'none'}), "
        "alert sent by run_failure_alerts."
    )


def serving_down(settings: Settings) -> str:
    pid_file = settings.serving_dir / f"server-{settings.serving_port}.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.killpg(pid, signal.SIGKILL)
    except (OSError, ValueError) as exc:
        raise MLAssetsError(
            f"no running model server to kill ({pid_file}: {exc}); is deployed_model materialized?"
        ) from exc
    killed = time.strftime("%H:%M:%S")
    return (
        f"killed the model server (pid {pid}) with SIGKILL at {killed}.\n"
        "Look for: serving_health_sensor's ticks and the observations on deployed_model (probe: connection "
        "refused), a redeploy_job run keyed to the incident, then a healthy probe.\n"
        "Response: endpoint restored by the daemon (about 20 s at a 10 s sensor interval), alerts "
        "serving_down and serving_recovered."
    )


def run(scenario: str, settings: Settings) -> str:
    actions = {"bad-data": bad_data, "leakage": leakage, "train-failure": train_failure, "serving-down": serving_down}
    if scenario not in actions:
        raise MLAssetsError(f"unknown scenario {scenario!r}: choose one of {', '.join(SCENARIOS)}")
    return actions[scenario](settings)
