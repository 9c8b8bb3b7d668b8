"""Champion/challenger registry on MLflow: the gate, alias history and rollback.

No Dagster here. Every alias move happens under a registry lock (a file lock for SQLite, a
PostgreSQL advisory lock for Postgres) and re-reads the champion inside it, so two trainings
that race can never both become champion.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ml_assets.errors import RegistryError
from ml_assets.lib.state import store_lock

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG_PREFIX = "ml_assets.alias_event."
HEALTHY_TAG = "ml_assets.served_healthy"


@dataclass(frozen=True)
class GateConfig:
    min_roc_auc: float = 0.70
    max_calibration_error: float = 0.10
    min_lift_over_baseline: float = 0.05
    """Candidate ROC AUC must beat the dummy baseline's by at least this much."""
    min_improvement: float = 0.0
    """Candidate ROC AUC must beat the champion's, on the same holdout, by more than this."""


@dataclass
class GateDecision:
    promote: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        verdict = "promote to champion" if self.promote else "keep the current champion"
        return f"{verdict}: " + "; ".join(self.reasons)


def _mlflow_validate(
    candidate: dict[str, float], baseline: dict[str, float] | None, thresholds: dict[str, Any]
) -> str | None:
    """MLflow's own model validation; returns its failure message, or None when it passes."""
    import mlflow
    from mlflow.models.evaluation import EvaluationResult

    try:
        mlflow.validate_evaluation_results(
            validation_thresholds=thresholds,
            candidate_result=EvaluationResult(metrics=candidate, artifacts={}),
            baseline_result=EvaluationResult(metrics=baseline, artifacts={}) if baseline is not None else None,
        )
    except Exception as exc:
        if type(exc).__name__ != "ModelValidationFailedException":
            raise
        return " ".join(str(exc).split())
    return None


def decide(
    candidate: dict[str, float],
    baseline: dict[str, float],
    champion: dict[str, float] | None,
    gate: GateConfig,
) -> GateDecision:
    """The quality gate; all metrics are on the same holdout. MLflow's ``validate_evaluation_results``
    makes each comparison (absolute floors, lift over the dummy baseline, gain over the champion)."""
    from mlflow.models import MetricThreshold

    metrics = {k: float(v) for k, v in candidate.items() if isinstance(v, int | float)}
    reasons: list[str] = []
    failures: list[str] = []
    auc = metrics.get("roc_auc", float("nan"))
    if not math.isfinite(auc):
        return GateDecision(False, ["ROC AUC is not a number: the model cannot be judged"])
    floors = {
        "roc_auc": MetricThreshold(threshold=gate.min_roc_auc, greater_is_better=True),
        "calibration_error": MetricThreshold(threshold=gate.max_calibration_error, greater_is_better=False),
    }
    if (msg := _mlflow_validate(metrics, None, floors)) is not None:
        failures.append(msg)
    reasons.append(f"ROC AUC {auc:.4f} (floor {gate.min_roc_auc:.2f})")
    reasons.append(
        f"calibration error {metrics.get('calibration_error', float('nan')):.4f} "
        f"(ceiling {gate.max_calibration_error:.2f})"
    )
    lift = {
        "roc_auc": MetricThreshold(min_absolute_change=max(gate.min_lift_over_baseline, 1e-9), greater_is_better=True)
    }
    base_auc = float(baseline.get("roc_auc", 0.5))
    if (msg := _mlflow_validate({"roc_auc": auc}, {"roc_auc": base_auc}, lift)) is not None:
        failures.append(f"does not beat the dummy baseline by {gate.min_lift_over_baseline:.2f}: {msg}")
    reasons.append(f"dummy baseline ROC AUC {base_auc:.4f}")
    if champion is None:
        reasons.append("no champion yet")
    else:
        champ_auc = float(champion["roc_auc"])
        gain = {"roc_auc": MetricThreshold(min_absolute_change=max(gate.min_improvement, 1e-9), greater_is_better=True)}
        if _mlflow_validate({"roc_auc": auc}, {"roc_auc": champ_auc}, gain) is not None:
            failures.append(
                f"ROC AUC {auc:.4f} does not beat the champion's {champ_auc:.4f} "
                f"(version {champion.get('version', '?')}) by more than {gate.min_improvement:.4f}"
            )
        else:
            reasons.append(f"beats the champion's ROC AUC {champ_auc:.4f} by {auc - champ_auc:.4f}")
    return GateDecision(not failures, failures + reasons if failures else reasons)


@contextlib.contextmanager
def registry_lock(tracking_uri: str, model_name: str) -> Iterator[None]:
    """Serialise alias moves across processes for one registered model.

    A remote MLflow server has no lock we can take; its registry serialises version numbers, and
    the champion is re-read right before each move."""
    with store_lock(tracking_uri, f"{model_name}.registry"):
        yield


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) or "not found" in str(exc).lower():
            return None
        raise


def record_event(
    client: MlflowClient, name: str, version: str, event: str, from_version: str | None, reason: str, run_id: str
) -> dict[str, Any]:
    """Append an alias event to the history, stored as a tag on the version it moved to."""
    now = datetime.now(UTC)
    entry = {
        "at": now.isoformat(timespec="seconds"),
        "event": event,
        "alias": CHAMPION,
        "from_version": from_version,
        "to_version": str(version),
        "reason": reason[:1500],
        "run_id": run_id,
    }
    client.set_model_version_tag(name, str(version), f"{HISTORY_TAG_PREFIX}{time.time_ns()}", json.dumps(entry))
    return entry


def alias_history(client: MlflowClient, name: str) -> list[dict[str, Any]]:
    """Every promotion and rollback of ``name``, oldest first."""
    events: list[tuple[str, dict[str, Any]]] = []
    for mv in client.search_model_versions(f"name='{name}'", max_results=10_000):
        for key, value in (mv.tags or {}).items():
            if key.startswith(HISTORY_TAG_PREFIX):
                events.append((key, json.loads(value)))
    return [e for _, e in sorted(events, key=lambda kv: int(kv[0][len(HISTORY_TAG_PREFIX) :]))]


def register_version(
    client: MlflowClient, name: str, model_uri: str, run_id: str, tags: dict[str, str]
) -> ModelVersion:
    """Register ``model_uri`` as a new version of ``name`` (creating the model if needed).

    Idempotent per training run: if a version from MLflow run ``run_id`` already exists (a step
    retried, or a run re-executed after its worker died between registering and reporting
    success), that version is returned instead of registering a duplicate.
    Call it with MLflow's fluent API pointed at the store (``MlflowResource.using()``)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    existing = client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    if existing:
        return min(existing, key=lambda mv: int(mv.version))

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
            raise
    return mlflow.register_model(model_uri, name, tags=tags)


def promote(
    client: MlflowClient,
    tracking_uri: str,
    name: str,
    version: str,
    decide_fn: Any,
    run_id: str,
) -> tuple[GateDecision, str | None]:
    """Under the registry lock: re-read the champion, decide, and move the alias if promoted.

    ``decide_fn(champion_version_or_None) -> GateDecision``. Returns the decision and the
    version that was champion before.
    """
    with registry_lock(tracking_uri, name):
        current = alias_version(client, name, CHAMPION)
        decision = decide_fn(current)
        previous = str(current.version) if current is not None else None
        if decision.promote:
            client.set_registered_model_alias(name, CHAMPION, str(version))
            record_event(client, name, str(version), "promotion", previous, decision.summary, run_id)
        return decision, previous


def rollback(
    client: MlflowClient,
    tracking_uri: str,
    name: str,
    reason: str,
    run_id: str,
    from_version: str | None = None,
) -> dict[str, Any]:
    """Re-point ``champion`` at the version that was champion before the current one.

    Idempotent: with ``from_version`` set, a second call finds the champion already moved away
    from it and changes nothing; a repeated request with the same ``run_id`` is a no-op too.
    Refuses (RegistryError) when there is nothing to roll back to.
    """
    with registry_lock(tracking_uri, name):
        current = alias_version(client, name, CHAMPION)
        if current is None:
            raise RegistryError(f"model {name!r} has no champion: nothing to roll back")
        history = alias_history(client, name)
        last = history[-1] if history else None
        if (
            last
            and last["event"] == "rollback"
            and last["run_id"] == run_id
            and str(current.version) == last["to_version"]
        ):
            return {**last, "noop": True}
        if from_version is not None and str(current.version) != str(from_version):
            return {
                "event": "noop",
                "to_version": str(current.version),
                "from_version": str(from_version),
                "noop": True,
            }
        target = previous_good_version(client, name, str(current.version))
        if target is None:
            raise RegistryError(
                f"model {name!r}: champion is version {current.version} and no earlier version was ever "
                "champion: nothing to roll back to"
            )
        client.set_registered_model_alias(name, CHAMPION, target)
        return record_event(client, name, target, "rollback", str(current.version), reason, run_id)


def previous_good_version(client: MlflowClient, name: str, current: str) -> str | None:
    """The version that was champion right before ``current`` became champion (walking past rollbacks)."""
    history = alias_history(client, name)
    # The chain of champions, newest last; a rollback removes the version rolled away from.
    chain: list[str] = []
    for event in history:
        if event["event"] == "promotion":
            chain.append(event["to_version"])
        elif event["event"] == "rollback":
            while chain and chain[-1] != event["to_version"]:
                chain.pop()
            if not chain or chain[-1] != event["to_version"]:
                chain.append(event["to_version"])
    while chain and chain[-1] != current:
        chain.pop()
    if len(chain) < 2:
        return None
    return chain[-2]


def ensure_registered_model_exists(client: MlflowClient, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        raise RegistryError(f"no registered model {name!r} in the MLflow store: train one first") from exc


def repoint(
    client: MlflowClient, tracking_uri: str, name: str, to_version: str, from_version: str, reason: str, run_id: str
) -> dict[str, Any]:
    """Move ``champion`` from ``from_version`` to ``to_version`` (a rollback the watchdog decided).

    A no-op when the champion is no longer ``from_version``: someone already acted."""
    with registry_lock(tracking_uri, name):
        current = alias_version(client, name, CHAMPION)
        if current is None or str(current.version) != str(from_version):
            return {"event": "noop", "to_version": str(current.version) if current else None, "noop": True}
        client.set_registered_model_alias(name, CHAMPION, str(to_version))
        return record_event(client, name, str(to_version), "rollback", str(from_version), reason, run_id)
