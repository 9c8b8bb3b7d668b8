"""Every path, URI and knob of ml-assets, with its environment variable and embedded default.

Nothing else in the package reads ``os.environ`` for configuration: change a default here,
override it with the environment variable in production.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# (env var, default, description). The README's settings table is generated from this list
# (``ml-assets settings``), so code and docs cannot drift apart.
ENV_VARS: list[tuple[str, str, str]] = [
    ("ML_ASSETS_HOME", "<repo>/.ml_assets", "Root of all embedded state."),
    ("ML_ASSETS_LANDING_DIR", "$ML_ASSETS_HOME/landing", "Where daily batch files land."),
    ("ML_ASSETS_WAREHOUSE_DIR", "$ML_ASSETS_HOME/warehouse", "Parquet warehouse (local path or s3://...)."),
    ("ML_ASSETS_QUARANTINE_DIR", "$ML_ASSETS_HOME/quarantine", "Quarantined rows, with reasons."),
    ("MLFLOW_TRACKING_URI", "sqlite:///$ML_ASSETS_HOME/mlflow/mlflow.db", "MLflow tracking and registry store."),
    (
        "ML_ASSETS_MLFLOW_ARTIFACT_ROOT",
        "$ML_ASSETS_HOME/mlflow/artifacts",
        "Artifact root for a new experiment (unset with an http(s) tracking server: the server's store).",
    ),
    ("ML_ASSETS_EXPERIMENT", "ml-assets", "MLflow experiment name."),
    ("ML_ASSETS_MODEL_NAME", "churn-classifier", "Registered model name in MLflow."),
    ("DAGSTER_HOME", "$ML_ASSETS_HOME/dagster", "Dagster instance directory."),
    ("ML_ASSETS_TRAINING_WINDOW_DAYS", "30", "How many of the newest landed days train a model."),
    ("ML_ASSETS_QUARANTINE_TOLERANCE", "0.01", "Bad-row fraction a batch may quarantine and still go on."),
    ("ML_ASSETS_SERVING_HOST", "127.0.0.1", "Model server bind address."),
    ("ML_ASSETS_SERVING_PORT", "8765", "Model server port."),
    ("ML_ASSETS_HEALTH_INTERVAL_SECONDS", "30", "How often the health sensor probes the endpoint (floor 5)."),
    ("ML_ASSETS_HEALTH_FAILURES", "2", "Consecutive failed probes that open an incident and request a redeploy."),
    ("ML_ASSETS_REDEPLOY_LIMIT", "3", "Failed redeploys of one incident before rolling the champion back."),
    ("ML_ASSETS_LANDING_INTERVAL_SECONDS", "15", "How often the landing-zone sensor looks for new files."),
    ("ML_ASSETS_AUTOMATION_INTERVAL_SECONDS", "30", "How often declarative automation is evaluated."),
    ("ML_ASSETS_RETRAIN_CRON", "0 3 * * *", "Cron of the daily retraining schedule (UTC)."),
    ("ML_ASSETS_EXECUTOR", "multiprocess", "Step executor: multiprocess, celery or k8s."),
    (
        "ML_ASSETS_CELERY_BROKER",
        "redis://127.0.0.1:6379/0",
        "Celery broker for the celery executor: Redis (`redis://`) or RabbitMQ (`amqp://`).",
    ),
    (
        "ML_ASSETS_CELERY_BACKEND",
        "",
        "Celery result backend; empty: the broker itself for Redis, `rpc://` for RabbitMQ.",
    ),
    ("ML_ASSETS_ALERT_WEBHOOK", "", "URL that receives alerts as JSON (empty: log lines only)."),
    (
        "ML_ASSETS_AUTOMATION",
        "on",
        "on: sensors and the schedule start running; off: they start stopped (turn them on in the UI).",
    ),
]


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    home: Path
    landing_dir: Path
    warehouse_dir: str
    quarantine_dir: Path
    mlflow_tracking_uri: str
    mlflow_artifact_root: str
    experiment_name: str
    model_name: str
    dagster_home: Path
    training_window_days: int
    quarantine_tolerance: float
    serving_host: str
    serving_port: int
    health_interval_seconds: int
    health_failures: int
    redeploy_limit: int
    alert_webhook: str | None
    landing_interval_seconds: int
    retrain_cron: str
    automation_interval_seconds: int
    executor: str
    celery_broker: str
    celery_backend: str
    automation: bool

    @property
    def serving_dir(self) -> Path:
        return self.home / "serving"

    def ensure_dirs(self) -> None:
        """Create the local directories of the embedded defaults (never touches landed files)."""
        for path in (self.home, self.landing_dir, self.quarantine_dir, self.dagster_home, self.serving_dir):
            path.mkdir(parents=True, exist_ok=True)
        if "://" not in self.warehouse_dir:
            Path(self.warehouse_dir).mkdir(parents=True, exist_ok=True)


def _int(name: str, default: str) -> int:
    raw = _env(name, default)
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


def _float(name: str, default: str) -> float:
    raw = _env(name, default)
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


EXECUTORS = ("multiprocess", "celery", "k8s")


def default_celery_backend(broker: str) -> str:
    """Redis stores results itself; RabbitMQ returns them as messages (`rpc://`, Celery's
    replacement for the removed `amqp` result backend)."""
    return broker if broker.startswith(("redis://", "rediss://")) else "rpc://"


def get_settings() -> Settings:
    """Read the settings from the environment (cheap: call it where you need it)."""
    home = Path(_env("ML_ASSETS_HOME", str(REPO_ROOT / ".ml_assets"))).expanduser().resolve()
    mlflow_dir = home / "mlflow"
    tracking_uri = _env("MLFLOW_TRACKING_URI", f"sqlite:///{mlflow_dir / 'mlflow.db'}")
    # a tracking server owns its artifact store (--artifacts-destination / --default-artifact-root)
    default_artifacts = "" if tracking_uri.startswith(("http://", "https://")) else str(mlflow_dir / "artifacts")
    broker = _env("ML_ASSETS_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    automation = _env("ML_ASSETS_AUTOMATION", "on").lower()
    if automation not in ("on", "off"):
        raise ValueError(f"ML_ASSETS_AUTOMATION={automation!r}: use on or off")
    executor = _env("ML_ASSETS_EXECUTOR", "multiprocess")
    if executor not in EXECUTORS:
        raise ValueError(f"ML_ASSETS_EXECUTOR={executor!r}: use {', '.join(EXECUTORS)}")
    return Settings(
        home=home,
        landing_dir=Path(_env("ML_ASSETS_LANDING_DIR", str(home / "landing"))).expanduser(),
        warehouse_dir=_env("ML_ASSETS_WAREHOUSE_DIR", str(home / "warehouse")),
        quarantine_dir=Path(_env("ML_ASSETS_QUARANTINE_DIR", str(home / "quarantine"))).expanduser(),
        mlflow_tracking_uri=tracking_uri,
        mlflow_artifact_root=_env("ML_ASSETS_MLFLOW_ARTIFACT_ROOT", default_artifacts),
        experiment_name=_env("ML_ASSETS_EXPERIMENT", "ml-assets"),
        model_name=_env("ML_ASSETS_MODEL_NAME", "churn-classifier"),
        dagster_home=Path(_env("DAGSTER_HOME", str(home / "dagster"))).expanduser(),
        training_window_days=_int("ML_ASSETS_TRAINING_WINDOW_DAYS", "30"),
        quarantine_tolerance=_float("ML_ASSETS_QUARANTINE_TOLERANCE", "0.01"),
        serving_host=_env("ML_ASSETS_SERVING_HOST", "127.0.0.1"),
        serving_port=_int("ML_ASSETS_SERVING_PORT", "8765"),
        health_interval_seconds=max(5, _int("ML_ASSETS_HEALTH_INTERVAL_SECONDS", "30")),
        health_failures=max(1, _int("ML_ASSETS_HEALTH_FAILURES", "2")),
        redeploy_limit=max(1, _int("ML_ASSETS_REDEPLOY_LIMIT", "3")),
        alert_webhook=_env("ML_ASSETS_ALERT_WEBHOOK", "") or None,
        landing_interval_seconds=max(5, _int("ML_ASSETS_LANDING_INTERVAL_SECONDS", "15")),
        retrain_cron=_env("ML_ASSETS_RETRAIN_CRON", "0 3 * * *"),
        automation_interval_seconds=max(5, _int("ML_ASSETS_AUTOMATION_INTERVAL_SECONDS", "30")),
        executor=executor,
        celery_broker=broker,
        celery_backend=_env("ML_ASSETS_CELERY_BACKEND", "") or default_celery_backend(broker),
        automation=automation == "on",
    )
