"""registered_model: every trained model becomes a version; only a better one becomes champion."""

from typing import Any

import dagster as dg

from ml_assets.assets.training import LAZY_FEATURES, STORE_RETRY, TRAINING_POOL, load_window, refuse_blocked
from ml_assets.lib import registry, training
from ml_assets.resources import MlflowResource
from ml_assets.resources.mlflow import store_errors
from ml_assets.types import Frame, LazyPartitions

GATE_CHECK = "champion_quality_gate"


class GateSettings(dg.Config):
    min_roc_auc: float = 0.70
    max_calibration_error: float = 0.10
    min_lift_over_baseline: float = 0.05
    min_improvement: float = 0.0


@dg.asset(
    ins={"cleaned_features": LAZY_FEATURES},
    group_name="registry",
    kinds={"mlflow"},
    pool=TRAINING_POOL,
    retry_policy=STORE_RETRY,
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[
        dg.AssetCheckSpec(
            GATE_CHECK,
            asset="registered_model",
            description="Fails when the newest model was not good enough to become champion (the champion stays).",
        )
    ],
)
def registered_model(
    context: dg.AssetExecutionContext,
    config: GateSettings,
    mlflow: MlflowResource,
    trained_model: dict[str, Any],
    model_evaluation: dict[str, Any],
    cleaned_features: LazyPartitions,
):
    """The newest model as an MLflow model version, aliased `challenger`; it becomes `champion`
    only if it passes the quality gate against the current champion on the same holdout."""
    import mlflow as mlflow_api

    refuse_blocked(trained_model)
    client = mlflow.client()
    name = mlflow.model_name
    gate = registry.GateConfig(**config.model_dump())
    tags = {
        "ml_assets.partitions": ",".join(trained_model["partitions"]),
        "ml_assets.data_hash": trained_model["data_hash"],
        "ml_assets.code_version": trained_model["code_version"],
        "ml_assets.params": str(trained_model["params"]),
        "ml_assets.dagster_run_id": context.run_id,
    }
    with store_errors("registering the model version", mlflow.tracking_uri), mlflow.using():
        mv = registry.register_version(client, name, trained_model["model_uri"], trained_model["run_id"], tags)
        client.set_registered_model_alias(name, registry.CHALLENGER, mv.version)
    holdout: Frame | None = None

    def decide(current: Any) -> registry.GateDecision:
        nonlocal holdout
        champion_metrics = None
        if current is not None:
            if holdout is None:
                df, _ = load_window({p: cleaned_features[p] for p in trained_model["partitions"]}, 0)
                holdout = training.split(df, trained_model["params"]["holdout_fraction"])[1]
            with mlflow.using():
                champ = mlflow_api.sklearn.load_model(f"models:/{name}/{current.version}")
            champion_metrics = training.evaluate(champ, holdout)["metrics"]
            champion_metrics["version"] = current.version
        return registry.decide(model_evaluation["metrics"], model_evaluation["baseline"], champion_metrics, gate)

    with store_errors("the champion decision", mlflow.tracking_uri):
        decision, previous = registry.promote(client, mlflow.tracking_uri, name, mv.version, decide, context.run_id)
        champion = registry.alias_version(client, name, registry.CHAMPION)
        history = registry.alias_history(client, name)
    context.log.info(f"version {mv.version}: {decision.summary}")
    yield dg.MaterializeResult(
        metadata={
            "model_name": name,
            "model_version": str(mv.version),
            "mlflow_run_id": trained_model["run_id"],
            "model_uri": f"models:/{name}/{mv.version}",
            "promoted": decision.promote,
            "decision": decision.summary,
            "champion_version": str(champion.version) if champion else "none",
            "previous_champion": str(previous) if previous else "none",
            "alias_history": _history_md(history[-15:]),
        },
    )
    yield dg.AssetCheckResult(
        check_name=GATE_CHECK,
        passed=decision.promote,
        severity=dg.AssetCheckSeverity.WARN,
        description=decision.summary,
        metadata={
            "candidate_version": str(mv.version),
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons)),
        },
    )


def _history_md(history: list[dict[str, Any]]) -> dg.MetadataValue:
    if not history:
        return dg.MetadataValue.md("_no alias changes yet_")
    lines = ["| when | event | from | to | why |", "|---|---|---|---|---|"]
    for e in reversed(history):
        why = e["reason"].replace("|", "/")[:160]
        lines.append(f"| {e['at']} | {e['event']} | {e['from_version'] or '-'} | {e['to_version']} | {why} |")
    return dg.MetadataValue.md("\n".join(lines))
