"""deployed_model: the champion behind an HTTP endpoint, verified by a canary through it."""

import json
from datetime import timedelta

import dagster as dg

from ml_assets.errors import DeploymentFailed, RegistryError
from ml_assets.lib import registry
from ml_assets.resources import MlflowResource
from ml_assets.resources.alerts import AlertResource
from ml_assets.resources.deployment import DeploymentTarget, canary_rows
from ml_assets.resources.mlflow import store_errors

CANARY_TOLERANCE = 1e-6


def verify_canary(deployment: DeploymentTarget, mlflow: MlflowResource, version: str) -> float:
    """The endpoint's predictions for known rows must equal the model's own; returns the max difference."""
    import mlflow as mlflow_api
    import numpy as np
    import requests

    from ml_assets.lib.training import features_of

    frame = features_of(canary_rows())
    with mlflow.using_uris():
        model = mlflow_api.sklearn.load_model(f"models:/{mlflow.model_name}/{version}")
    expected = model.predict_proba(frame)
    payload = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
    try:
        answer = requests.post(f"{deployment.url}/invocations", json=payload, timeout=deployment.probe_timeout_seconds)
        got = np.asarray(answer.json()["predictions"], dtype=float)
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise DeploymentFailed(f"canary request to {deployment.url} failed: {exc}") from exc
    if got.shape != expected.shape:
        raise DeploymentFailed(f"canary: endpoint returned shape {got.shape}, model gives {expected.shape}")
    diff = float(np.max(np.abs(got - expected)))
    if not diff <= CANARY_TOLERANCE:
        raise DeploymentFailed(f"canary: endpoint predictions differ from version {version}'s by {diff:.3g}")
    return diff


@dg.asset(
    deps=["registered_model"],
    group_name="serving",
    kinds={"fastapi", "mlflow"},
    automation_condition=dg.AutomationCondition.eager(),
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(days=2), warn_window=timedelta(days=1)),
)
def deployed_model(
    context: dg.AssetExecutionContext,
    mlflow: MlflowResource,
    deployment: DeploymentTarget,
    alerts: AlertResource,
) -> dg.MaterializeResult:
    """The registry's `champion`, served over HTTP (MLflow scoring protocol). It counts as deployed
    only once a canary prediction through the real endpoint matches the model's own."""
    client = mlflow.client()
    with store_errors("reading the champion", mlflow.tracking_uri):
        champion = registry.alias_version(client, mlflow.model_name, registry.CHAMPION)
    if champion is None:
        raise dg.Failure("no champion model version to deploy yet: materialize registered_model", allow_retries=False)
    version = str(champion.version)
    try:
        info = deployment.deploy(mlflow.model_name, version, mlflow.tracking_uri)
        diff = verify_canary(deployment, mlflow, version)
    except DeploymentFailed as exc:
        # the new version does not serve correctly: go back to the one that did, and say so
        try:
            event = registry.rollback(
                client, mlflow.tracking_uri, mlflow.model_name, f"deployment failed: {exc}"[:500], context.run_id,
                from_version=version,
            )  # fmt: skip
        except RegistryError as rb:
            alerts.send("deployment_failed", str(exc)[:500], version=version, rollback=f"impossible: {rb}")
            raise dg.Failure(f"deploying version {version} failed and there is nothing to roll back to: {exc}") from exc
        previous = event["to_version"]
        deployment.deploy(mlflow.model_name, previous, mlflow.tracking_uri)
        alerts.send("deployment_rolled_back", str(exc)[:500], failed_version=version, serving_version=previous)
        raise dg.Failure(
            f"deploying version {version} failed ({str(exc)[:300]}); rolled back: champion is version {previous} "
            "again and is being served",
            allow_retries=False,
        ) from exc
    context.log.info(f"serving {mlflow.model_name} version {version} at {info['url']}")
    return dg.MaterializeResult(
        metadata={
            "url": dg.MetadataValue.url(info["url"]),
            "model_version": version,
            "model_uri": f"models:/{mlflow.model_name}@champion",
            "pid": info["pid"] or -1,
            "restarted": info["restarted"],
            "canary_max_abs_diff": diff,
            "canary_latency_ms": round(info["latency_ms"] or 0.0, 2),
        }
    )
