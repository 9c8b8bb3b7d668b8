"""Sensors: the serving watchdog and failure alerts (the landing-zone sensor lives beside them).

Each sensor's logic is a plain function of (cursor, world) -> (actions, new cursor), so an
interrupted evaluation that runs again makes the same decision: a run key derived from the
committed cursor means one incident gets one remediation, however many ticks see it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg

from ml_assets.lib import landing, registry
from ml_assets.lib.state import JsonCursor
from ml_assets.partitions import landed_days
from ml_assets.resources import LandingZone, MlflowResource
from ml_assets.resources.alerts import AlertResource
from ml_assets.resources.deployment import DeploymentTarget
from ml_assets.settings import get_settings

INCIDENT_TAG = "ml_assets/incident"
redeploy_job = dg.define_asset_job(
    "redeploy_job",
    selection=["deployed_model"],
    description="Redeploy the champion to the serving endpoint (requested by the health sensor).",
    tags={"dagster/max_runtime": 600, "ml_assets/stage": "serving"},
)


@dataclass
class WatchState(JsonCursor):
    failures: int = 0
    first_failure_at: float | None = None
    last_healthy_version: str | None = None
    rolled_back: bool = False
    alerted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def incident(self) -> str | None:
        return None if self.first_failure_at is None else f"incident-{int(self.first_failure_at * 1000)}"


@dataclass
class Decision:
    state: WatchState
    run_key: str | None = None
    rollback_to: str | None = None
    alerts: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""


def decide(
    state: WatchState,
    healthy: bool,
    reason: str,
    champion: str,
    now: float,
    failed_redeploys: int,
    redeploy_in_progress: bool,
    threshold: int,
    redeploy_limit: int,
    certain: bool = False,
) -> Decision:
    """The watchdog's whole policy, without Dagster. ``certain`` (the server process is known to be
    dead) opens the incident at once: waiting for more probes would only lengthen the outage."""
    new = WatchState(**asdict(state))
    if healthy:
        alerts = (
            [("serving_recovered", f"{state.incident} over: version {champion} serves again")] if state.incident else []
        )
        return Decision(WatchState(last_healthy_version=champion), alerts=alerts, note="healthy")
    new.failures += 1
    if new.first_failure_at is None:
        new.first_failure_at = now
    if new.failures < threshold and not certain:
        return Decision(new, note=f"failure {new.failures}/{threshold}: {reason}")
    decision = Decision(new)
    if not new.alerted:
        new.alerted = True
        decision.alerts.append(("serving_down", f"{new.incident}: {reason} ({new.failures} failed probes)"))
    if redeploy_in_progress:
        decision.note = "a redeploy is running"
        return decision
    if failed_redeploys >= redeploy_limit and not new.rolled_back:
        target = new.last_healthy_version
        if target and target != champion:
            decision.rollback_to = target
            decision.alerts.append(
                (
                    "serving_rolled_back",
                    f"{new.incident}: {failed_redeploys} redeploys failed; champion back to {target}",
                )
            )
        else:
            decision.alerts.append(("serving_circuit_open", f"{new.incident}: {failed_redeploys} redeploys failed"))
        new.rolled_back = True
        decision.run_key = f"redeploy-{new.incident}-after-rollback"
        return decision
    if failed_redeploys >= redeploy_limit:
        decision.note = "circuit open: waiting for a human"
        return decision
    decision.run_key = f"redeploy-{new.incident}-{failed_redeploys + 1}"
    return decision


_settings = get_settings()
# ML_ASSETS_AUTOMATION=off starts every sensor and the schedule stopped (a staging deployment, a
# maintenance window); they are turned on in the UI, and that choice is kept in the instance.
SENSOR_STATUS = dg.DefaultSensorStatus.RUNNING if _settings.automation else dg.DefaultSensorStatus.STOPPED


@dg.sensor(
    job=redeploy_job,
    minimum_interval_seconds=_settings.health_interval_seconds,
    default_status=SENSOR_STATUS,
    description="Probes the serving endpoint with a real canary prediction; redeploys after repeated failures, "
    "rolls the champion back when redeploys keep failing, and records every probe on deployed_model.",
)
def serving_health_sensor(
    context: dg.SensorEvaluationContext,
    deployment: DeploymentTarget,
    mlflow: MlflowResource,
    alerts: AlertResource,
) -> dg.SensorResult | dg.SkipReason:
    settings = get_settings()
    state = WatchState.load(context.cursor)
    try:
        champion = registry.alias_version(mlflow.client(), mlflow.model_name, registry.CHAMPION)
    except Exception as exc:  # noqa: BLE001 - an unreachable registry is reported, not crashed on
        return dg.SkipReason(f"cannot read the champion from {mlflow.tracking_uri}: {str(exc)[:200]}")
    if champion is None:
        return dg.SkipReason("no champion yet: nothing to watch")
    version = str(champion.version)
    probe = deployment.probe(version)
    runs = []
    if state.incident:
        runs = context.instance.get_runs(filters=dg.RunsFilter(tags={INCIDENT_TAG: state.incident}))
    failed = sum(r.status == dg.DagsterRunStatus.FAILURE for r in runs)
    running = any(not r.is_finished for r in runs)
    dead = not probe.healthy and deployment.process_dead()
    reason = probe.reason + (" (server process is dead)" if dead else "")
    decision = decide(
        state, probe.healthy, reason, version, time.time(),
        failed, running, settings.health_failures, settings.redeploy_limit, certain=dead,
    )  # fmt: skip
    for event, message in decision.alerts:
        alerts.send(event, message, endpoint=deployment.url, champion=version)
    if decision.rollback_to:
        registry.repoint(
            mlflow.client(), mlflow.tracking_uri, mlflow.model_name, decision.rollback_to, version,
            f"serving watchdog: {failed} redeploys of version {version} failed", decision.state.incident or "sensor",
        )  # fmt: skip
    observation = dg.AssetObservation(
        asset_key="deployed_model",
        metadata={
            "healthy": probe.healthy,
            "probe": reason,
            "champion_version": version,
            "served_version": probe.version or "none",
            "latency_ms": round(probe.latency_ms or 0.0, 2),
            "consecutive_failures": decision.state.failures,
            "incident": decision.state.incident or "none",
            "action": decision.run_key or decision.rollback_to or decision.note or "none",
        },
    )
    requests = []
    if decision.run_key:
        requests.append(dg.RunRequest(run_key=decision.run_key, tags={INCIDENT_TAG: decision.state.incident or ""}))
    return dg.SensorResult(run_requests=requests, asset_events=[observation], cursor=decision.state.dump())


@dg.run_failure_sensor(
    default_status=SENSOR_STATUS,
    description="Sends one alert for every failed run, including the watchdog's redeploys.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, alerts: AlertResource) -> None:
    run = context.dagster_run
    alerts.send(
        "run_failed",
        (context.failure_event.message or "run failed")[:500],
        job=run.job_name,
        run_id=run.run_id,
        partition=run.tags.get("dagster/partition", ""),
        incident=run.tags.get(INCIDENT_TAG, ""),
    )


@dg.sensor(
    job_name="ingestion_job",
    minimum_interval_seconds=int(_settings.landing_interval_seconds),
    default_status=SENSOR_STATUS,
    description="Starts one ingestion run per new or changed landed day. Ignores *.tmp files and files "
    "whose size or mtime is still changing; reports files it cannot map to a day.",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, landing_zone: LandingZone) -> dg.SensorResult:
    state = landing.LandingState.load(context.cursor)
    decision = landing.scan(landing_zone.directory, state)
    for name, why in decision.new_skips.items():
        context.log.warning(f"skipping {name}: {why}")
    known = set(context.instance.get_dynamic_partitions(landed_days.name))
    new_days = [d for d in decision.runs if d not in known]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=key, partition_key=day) for day, key in decision.runs.items()],
        dynamic_partitions_requests=[landed_days.build_add_request(new_days)] if new_days else [],
        cursor=decision.state.dump(),
    )


@dg.asset_sensor(
    asset_key=dg.AssetKey("cleaned_features"),
    job_name="training_job",
    default_status=SENSOR_STATUS,
    description="Retrains when a new feature batch drifts past the PSI threshold (feature_drift check).",
)
def drift_retraining_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    materialization = asset_event.asset_materialization
    high = materialization.metadata.get("high_drift") if materialization else None
    if high is None or not high.value:
        return dg.SkipReason("no high drift in the newest feature batch")
    event_key = f"{materialization.partition or ''}-{int(asset_event.timestamp * 1000)}"
    return dg.RunRequest(run_key=f"drift-{event_key}", tags={"ml_assets/trigger": "drift"})


retraining_schedule = dg.ScheduleDefinition(
    name="daily_retraining",
    job_name="training_job",
    cron_schedule=_settings.retrain_cron,
    default_status=dg.DefaultScheduleStatus.RUNNING if _settings.automation else dg.DefaultScheduleStatus.STOPPED,
    description="Retrains on the newest window every day; the gate decides whether it replaces the champion.",
)
