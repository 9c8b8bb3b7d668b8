"""Op jobs that act on the registry rather than materialize assets."""

import dagster as dg

from ml_assets.lib import registry
from ml_assets.resources import MlflowResource
from ml_assets.resources.mlflow import store_errors


class RollbackConfig(dg.Config):
    from_version: str | None = None
    """Only roll back if this version is the champion (makes a retried request a no-op)."""
    reason: str = "manual rollback (rollback_job)"


@dg.op(retry_policy=dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.FULL))
def rollback_champion(context: dg.OpExecutionContext, config: RollbackConfig, mlflow: MlflowResource) -> None:
    """Re-point `champion` at the previous good version, in one step."""
    from ml_assets.errors import RegistryError

    client = mlflow.client()
    try:
        with store_errors("rollback", mlflow.tracking_uri):
            registry.ensure_registered_model_exists(client, mlflow.model_name)
            event = registry.rollback(
                client,
                mlflow.tracking_uri,
                mlflow.model_name,
                reason=config.reason,
                run_id=context.run_id,
                from_version=config.from_version,
            )
    except RegistryError as exc:
        if "nothing to roll back" in str(exc) or "no registered model" in str(exc):
            raise dg.Failure(str(exc), allow_retries=False) from exc
        raise
    if event.get("noop"):
        context.log.info(f"nothing to do: champion is version {event['to_version']}")
    else:
        context.log.info(f"champion: version {event['from_version']} -> {event['to_version']}")


@dg.job(description="Re-point the champion alias at the previous good model version (idempotent).")
def rollback_job() -> None:
    rollback_champion()
