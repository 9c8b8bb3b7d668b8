"""Materialize the real graph in-process against a test instance and real stores."""

from __future__ import annotations

import dagster as dg

from ml_assets.definitions import INGESTION, TRAINING, build_definitions
from ml_assets.lib import ingest
from ml_assets.partitions import landed_days
from ml_assets.resources.mlflow import ensure_store
from ml_assets.settings import Settings

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def all_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    return list(build_definitions(settings).assets or [])


def ingest_days(
    settings: Settings, instance: dg.DagsterInstance, run_config: dict | None = None
) -> dict[str, dg.ExecuteInProcessResult]:
    from ml_assets.definitions import resources_for

    days = sorted(ingest.list_landed_files(settings.landing_dir))
    instance.add_dynamic_partitions(
        landed_days.name, [d for d in days if not instance.has_dynamic_partition(landed_days.name, d)]
    )
    results = {}
    for day in days:
        results[day] = dg.materialize(
            all_assets(settings),
            selection=INGESTION,
            partition_key=day,
            instance=instance,
            resources=resources_for(settings),
            raise_on_error=False,
            run_config={**QUIET, **(run_config or {})},
        )
    return results


def train(
    settings: Settings, instance: dg.DagsterInstance, run_config: dict | None = None
) -> dg.ExecuteInProcessResult:
    from ml_assets.definitions import resources_for

    ensure_store(settings.mlflow_tracking_uri, settings.mlflow_artifact_root, settings.experiment_name)
    return dg.materialize(
        all_assets(settings),
        selection=TRAINING,
        instance=instance,
        resources=resources_for(settings),
        raise_on_error=False,
        run_config={**QUIET, **(run_config or {})},
    )


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    out = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            err = event.step_failure_data.error
            messages = []
            while err is not None:
                messages.append(err.message)
                err = err.cause
            out.append(" | ".join(messages))
    return out


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}
