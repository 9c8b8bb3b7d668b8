"""trained_model and model_evaluation: fit on a window of landed days, score on the holdout."""

import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from ml_assets import dataset
from ml_assets import metadata as md
from ml_assets.assets.features import latest_metadata
from ml_assets.checks import drift, leakage
from ml_assets.errors import TrainingFailed
from ml_assets.lib import training
from ml_assets.resources import MlflowResource
from ml_assets.resources.mlflow import SKOPS_TRUSTED_TYPES, store_errors
from ml_assets.settings import REPO_ROOT, get_settings
from ml_assets.types import Frame, LazyPartitions

# Transient faults (a tracking store that blinks) are retried with backoff; contract and
# programming errors are raised as dg.Failure(allow_retries=False) and fail fast.
# Concurrency pool of the steps that must not race: training and the champion decision. The
# production instance (deploy/dagster.yaml) limits it to one run at a time, whoever launched the
# run (a job, a schedule, the automation sensor or the UI); locally it is unlimited.
TRAINING_POOL = "training"
STORE_RETRY = dg.RetryPolicy(max_retries=5, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.FULL)


class TrainingConfig(dg.Config):
    window_days: int = get_settings().training_window_days
    """How many of the newest landed days to train on."""
    max_iter: int = 150
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    l2_regularization: float = 0.0
    holdout_fraction: float = 0.2


def load_window(loaders: LazyPartitions, window_days: int) -> tuple[Frame, list[str]]:
    """Concatenate the newest ``window_days`` stored partitions (days that failed upstream are absent)."""
    import pandas as pd

    keys = sorted(loaders)[-window_days:] if window_days > 0 else sorted(loaders)
    if not keys:
        raise TrainingFailed("no cleaned_features partition is stored yet: materialize raw_data and cleaned_features")
    return pd.concat([loaders[k]() for k in keys], ignore_index=True), keys


def git_sha() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


LAZY_FEATURES = dg.AssetIn("cleaned_features", metadata={"lazy": True})


def usable_partitions(context: dg.AssetExecutionContext, loaders: LazyPartitions) -> tuple[LazyPartitions, list[str]]:
    """Drop days whose cleaned_features failed a blocking check: no later run may train on them."""
    meta = latest_metadata(context.instance, "cleaned_features", sorted(loaders))
    excluded = sorted(k for k in loaders if meta.get(k, {}).get("blocking_checks_passed") is False)
    if excluded:
        context.log.warning(f"excluding days that failed blocking checks: {excluded}")
    return {k: v for k, v in loaders.items() if k not in excluded}, excluded


@dg.asset(
    ins={"cleaned_features": LAZY_FEATURES},
    group_name="training",
    kinds={"scikitlearn", "mlflow"},
    pool=TRAINING_POOL,
    retry_policy=STORE_RETRY,
    automation_condition=dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed(),
    # a model older than two days shows as stale in the UI (retraining is daily)
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(days=2), warn_window=timedelta(days=1)),
    check_specs=[
        dg.AssetCheckSpec(
            leakage.NO_OVERLAP,
            asset="trained_model",
            blocking=True,
            description="No holdout row also occurs in training (by id or by content).",
        )
    ],
)
def trained_model(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    mlflow: MlflowResource,
    cleaned_features: LazyPartitions,
):
    """An sklearn Pipeline (imputation, encoding, gradient boosting) trained on the newest days,
    logged to MLflow with params, metrics, signature and input example."""
    import mlflow as mlflow_api
    from mlflow.models import infer_signature

    loaders, excluded = usable_partitions(context, cleaned_features or {})
    df, partitions = load_window(loaders, config.window_days)
    params = training.TrainParams(
        max_iter=config.max_iter,
        learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes,
        l2_regularization=config.l2_regularization,
        holdout_fraction=config.holdout_fraction,
    )
    context.log.info(f"training on {len(df)} rows from {len(partitions)} day(s): {partitions[0]} .. {partitions[-1]}")
    train_part, holdout_part = training.split(df, params.holdout_fraction)
    overlap = leakage.no_train_holdout_overlap(train_part, holdout_part)
    if not overlap.passed:
        context.log.error(f"not training: {overlap.description}")
        yield dg.MaterializeResult(
            value={"blocked": True, "reason": overlap.description, "partitions": partitions},
            metadata={"blocked": True, "reason": overlap.description, "partitions": dg.MetadataValue.json(partitions)},
        )
        yield overlap
        return
    del train_part, holdout_part
    try:
        result = training.train_model(df, params)
    except TrainingFailed as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc
    except Exception as exc:
        # a bug or a bad parameter: retrying cannot help, and nothing is registered
        raise dg.Failure(f"training crashed: {type(exc).__name__}: {exc}", allow_retries=False) from exc
    profile = drift.reference_profile(df)
    example = training.features_of(df.head(5))
    tags = {
        "ml_assets.partitions": ",".join(partitions),
        "ml_assets.data_hash": result.data_hash,
        "ml_assets.code_version": git_sha(),
        "ml_assets.dagster_run_id": context.run_id,
    }
    with (
        store_errors("logging the model to MLflow", mlflow.tracking_uri),
        mlflow.active_run(run_name=f"train-{context.run_id[:8]}", tags=tags) as run,
    ):
        mlflow_api.log_params({**params.as_dict(), "window_days": config.window_days, "train_rows": result.train_rows})
        mlflow_api.log_metrics({f"holdout_{k}": v for k, v in result.metrics.items()})
        signature = infer_signature(example, result.pipeline.predict_proba(example))
        info = mlflow_api.sklearn.log_model(
            result.pipeline,
            name="model",
            signature=signature,
            input_example=example,
            pyfunc_predict_fn="predict_proba",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
    ref: dict[str, Any] = {
        "blocked": False,
        "run_id": run.info.run_id,
        "model_uri": info.model_uri,
        "partitions": partitions,
        "data_hash": result.data_hash,
        "code_version": tags["ml_assets.code_version"],
        "params": params.as_dict(),
        "metrics": result.metrics,
        "train_rows": result.train_rows,
        "holdout_rows": result.holdout_rows,
    }
    yield dg.MaterializeResult(
        value=ref,
        metadata={
            "blocked": False,
            "excluded_partitions": dg.MetadataValue.json(excluded),
            "reference_profile": dg.MetadataValue.json(profile),
            "mlflow_run_id": run.info.run_id,
            "model_uri": info.model_uri,
            "train_rows": result.train_rows,
            "holdout_rows": result.holdout_rows,
            "partitions": dg.MetadataValue.json(partitions),
            "data_hash": result.data_hash,
            **{f"holdout_{k}": float(v) for k, v in result.metrics.items()},
        },
    )
    yield overlap


def refuse_blocked(trained_model: dict[str, Any]) -> None:
    if trained_model.get("blocked"):
        raise dg.Failure(
            f"the newest trained_model was blocked by a leakage check ({trained_model.get('reason')}); "
            "fix the data and retrain",
            allow_retries=False,
        )


@dg.asset(
    ins={"cleaned_features": LAZY_FEATURES},
    group_name="training",
    kinds={"scikitlearn", "mlflow"},
    retry_policy=STORE_RETRY,
    automation_condition=dg.AutomationCondition.eager(),
)
def model_evaluation(
    context: dg.AssetExecutionContext,
    mlflow: MlflowResource,
    trained_model: dict[str, Any],
    cleaned_features: LazyPartitions,
) -> dg.MaterializeResult:
    """Holdout metrics of the newest trained model, next to a dummy baseline, logged to its MLflow run."""
    import mlflow as mlflow_api

    refuse_blocked(trained_model)
    missing = [p for p in trained_model["partitions"] if p not in cleaned_features]
    if missing:
        raise dg.Failure(f"partitions the model was trained on are gone from the warehouse: {missing}")
    df, _ = load_window({p: cleaned_features[p] for p in trained_model["partitions"]}, 0)
    _, holdout = training.split(df, trained_model["params"]["holdout_fraction"])
    with store_errors("loading the trained model", mlflow.tracking_uri), mlflow.using():
        model = mlflow_api.sklearn.load_model(trained_model["model_uri"])
    try:
        y, proba = training.holdout_scores(model, holdout)
    except TrainingFailed as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc
    evaluation = training.evaluate_scores(y, proba)
    plots = training.evaluation_plots(y, proba)
    with (
        store_errors("logging evaluation metrics and plots", mlflow.tracking_uri),
        tempfile.TemporaryDirectory() as tmp,
    ):
        client = mlflow.client()
        for name, value in evaluation["metrics"].items():
            client.log_metric(trained_model["run_id"], f"eval_{name}", value)
        for name, value in evaluation["baseline"].items():
            client.log_metric(trained_model["run_id"], f"baseline_{name}", value)
        for name, png in plots.items():
            path = Path(tmp) / f"{name}.png"
            path.write_bytes(png)
            client.log_artifact(trained_model["run_id"], str(path), artifact_path="evaluation")
    context.log.info(
        f"holdout ROC AUC {evaluation['metrics']['roc_auc']:.4f} vs baseline {evaluation['baseline']['roc_auc']:.4f}"
    )
    value = {"run_id": trained_model["run_id"], "model_uri": trained_model["model_uri"], **evaluation}
    return dg.MaterializeResult(
        value=value,
        metadata={
            "mlflow_run_id": trained_model["run_id"],
            "holdout_rows": len(holdout),
            **{f"{k}": float(v) for k, v in evaluation["metrics"].items()},
            **{f"baseline_{k}": float(v) for k, v in evaluation["baseline"].items()},
            "label": dataset.LABEL,
            **{name: md.png(png, name.replace("_", " ")) for name, png in plots.items()},
        },
    )
