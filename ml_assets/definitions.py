"""The one place that wires Definitions: assets, checks, resources, jobs, sensors, schedules.

Heavy libraries (pandas, sklearn, mlflow) are imported inside the functions that use them, so
loading this module stays fast for `dagster dev`, every run worker and every sensor tick.
"""

from __future__ import annotations

import dagster as dg

from ml_assets.assets.deployment import deployed_model
from ml_assets.assets.features import cleaned_features
from ml_assets.assets.ingestion import ingestion
from ml_assets.assets.registry import registered_model
from ml_assets.assets.training import model_evaluation, trained_model
from ml_assets.io_managers import WarehouseIOManager
from ml_assets.jobs import rollback_job
from ml_assets.partitions import landed_days
from ml_assets.resources import LandingZone, MlflowResource
from ml_assets.resources.alerts import AlertResource
from ml_assets.resources.deployment import LocalProcessDeployment
from ml_assets.sensors import (
    drift_retraining_sensor,
    landing_zone_sensor,
    redeploy_job,
    retraining_schedule,
    run_failure_alerts,
    serving_health_sensor,
)
from ml_assets.settings import Settings, get_settings

INGESTION = dg.AssetSelection.assets("raw_data", "quarantined_rows", "cleaned_features")
TRAINING = dg.AssetSelection.assets("trained_model", "model_evaluation", "registered_model")

ingestion_job = dg.define_asset_job(
    "ingestion_job",
    selection=INGESTION,
    partitions_def=landed_days,
    description="Ingest one landed day: validate, quarantine bad rows, build its feature table.",
    # run monitoring fails a run stuck longer than this (a day's file takes seconds)
    tags={"dagster/max_runtime": 1800, "ml_assets/stage": "ingestion"},
)
training_job = dg.define_asset_job(
    "training_job",
    selection=TRAINING,
    description="Train on the newest days, evaluate, register, and promote if the gate passes.",
    # run monitoring (on in the embedded and production instances) fails a run stuck this long
    tags={"dagster/max_runtime": 3600, "ml_assets/stage": "training"},
)


def resources_for(settings: Settings) -> dict[str, object]:
    return {
        "io_manager": WarehouseIOManager(base_path=settings.warehouse_dir),
        "quarantine_io_manager": WarehouseIOManager(base_path=str(settings.quarantine_dir)),
        "landing_zone": LandingZone(path=str(settings.landing_dir)),
        "mlflow": MlflowResource(
            tracking_uri=settings.mlflow_tracking_uri,
            artifact_root=settings.mlflow_artifact_root,
            experiment_name=settings.experiment_name,
            model_name=settings.model_name,
        ),
        "deployment": LocalProcessDeployment(
            host=settings.serving_host, port=settings.serving_port, state_dir=str(settings.serving_dir)
        ),
        "alerts": AlertResource(webhook_url=settings.alert_webhook),
    }


def automation_sensor(settings: Settings) -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's automation condition (downstream materializes once upstream updates
    and all blocking checks pass). On by default, so `make dev` runs the loop with no clicks."""
    return dg.AutomationConditionSensorDefinition(
        "automation_sensor",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING if settings.automation else dg.DefaultSensorStatus.STOPPED,
        minimum_interval_seconds=settings.automation_interval_seconds,
        description="Declarative automation: cleaned_features → trained_model → registered_model → deployed_model.",
    )


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    """The step executor, chosen by configuration (ML_ASSETS_EXECUTOR), never by a code change."""
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    if settings.executor == "celery":
        from dagster_celery import celery_executor

        config = {"broker": settings.celery_broker, "backend": settings.celery_backend}
        return celery_executor.configured(config, name="celery_executor")
    from dagster_k8s import k8s_job_executor  # "k8s": settings accept nothing else

    return k8s_job_executor


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or get_settings()
    return dg.Definitions(
        assets=[ingestion, cleaned_features, trained_model, model_evaluation, registered_model, deployed_model],
        jobs=[ingestion_job, training_job, rollback_job, redeploy_job],
        sensors=[
            landing_zone_sensor,
            drift_retraining_sensor,
            serving_health_sensor,
            run_failure_alerts,
            automation_sensor(settings),
        ],
        schedules=[retraining_schedule],
        executor=executor_for(settings),
        resources=resources_for(settings),
    )


defs = build_definitions()
