"""MLflow tracking and registry, as a typed resource.

Each call scopes the tracking URI to this resource, so two resources (or two tests) pointing at
different stores never share MLflow's process-global state by accident.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from ml_assets.errors import RegistryError
from ml_assets.lib.state import store_lock

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run


def sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def ensure_store(tracking_uri: str, artifact_root: str, experiment_name: str) -> str:
    """Create (or migrate) the tracking store and the experiment; return the experiment id.

    MLflow's schema set-up races when a fresh database is first used by several processes at
    once, so it runs under a lock the store itself can hold: an exclusive file lock for SQLite,
    a PostgreSQL advisory lock (which processes on other machines see too) for PostgreSQL. A
    tracking server sets up its own schema; when two processes create the experiment at the
    same moment there, the loser finds the winner's experiment and uses it. Anything else that
    fails is tried again twice, with a short pause, before it is reported.
    """
    db = sqlite_path(tracking_uri)
    attempts = 1 if db is not None else 3
    for attempt in range(1, attempts + 1):
        try:
            with store_lock(tracking_uri, "setup"):
                return _ensure_experiment(tracking_uri, artifact_root, experiment_name)
        except Exception as exc:
            existing = _existing_experiment(tracking_uri, experiment_name)
            if existing is not None:  # another process created it between our look and our create
                return existing
            if attempt == attempts:
                raise RegistryError(
                    f"MLflow store {tracking_uri} is unreachable or unusable: {type(exc).__name__}: "
                    f"{_first_line(exc)}. Check MLFLOW_TRACKING_URI."
                ) from exc
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _ensure_experiment(tracking_uri: str, artifact_root: str, experiment_name: str) -> str:
    from mlflow import MlflowClient

    if sqlite_path(tracking_uri) is not None or tracking_uri.startswith(("postgresql", "mysql")):
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        SqlAlchemyStore(tracking_uri, artifact_root or None)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    exp = client.get_experiment_by_name(experiment_name)
    if exp is not None:
        return exp.experiment_id
    if not artifact_root:  # a tracking server chooses (and may proxy) the artifact store
        return client.create_experiment(experiment_name)
    location = artifact_root if "://" in artifact_root else Path(artifact_root).resolve().as_uri()
    return client.create_experiment(experiment_name, artifact_location=location)


def _existing_experiment(tracking_uri: str, experiment_name: str) -> str | None:
    """The experiment's id if it exists now; None if it does not or the store cannot be reached."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        exp = client.get_experiment_by_name(experiment_name)
    except (MlflowException, SQLAlchemyError, OSError):  # the caller reports its own, first error
        return None
    return None if exp is None else exp.experiment_id


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking store, experiment and registered model name for the pipeline."""

    tracking_uri: str
    artifact_root: str
    experiment_name: str = "ml-assets"
    model_name: str = "churn-classifier"

    def client(self) -> MlflowClient:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def experiment_id(self) -> str:
        return ensure_store(self.tracking_uri, self.artifact_root, self.experiment_name)

    @contextlib.contextmanager
    def using(self) -> Iterator[None]:
        """Point MLflow's fluent API at this store for the duration of the block.

        ``mlflow.set_tracking_uri`` also writes MLFLOW_TRACKING_URI/MLFLOW_REGISTRY_URI into
        os.environ; both the module state and the environment are restored afterwards, so no
        store leaks into the next run, test or child process.
        """
        self.experiment_id()
        with self.using_uris():
            yield

    @contextlib.contextmanager
    def using_uris(self) -> Iterator[None]:
        """Like ``using`` without creating the experiment (for read-only callers such as the server)."""
        import mlflow

        saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])
            mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    @contextlib.contextmanager
    def active_run(self, run_name: str, tags: dict[str, str] | None = None) -> Iterator[Run]:
        """Start an MLflow run against *this* store, restoring the previous global URI after."""
        import mlflow

        with (
            self.using(),
            mlflow.start_run(experiment_id=self.experiment_id(), run_name=run_name, tags=tags or {}) as run,
        ):
            yield run


# HistGradientBoosting's tree arrays are a type skops does not trust by default. We trust them
# because ml-assets wrote the file itself, into its own store, moments earlier.
SKOPS_TRUSTED_TYPES = ["numpy.dtype", "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]

_TRANSIENT_MARKERS = (
    "database is locked",
    "connection refused",
    "could not connect",
    "connection reset",
    "timed out",
    "temporarily unavailable",
    "server closed the connection",
    "max retries exceeded",
    "unable to open database file",
)


def is_transient(exc: BaseException) -> bool:
    """A fault of the store's reachability (worth a retry), not of our code or data."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        name = type(seen).__name__
        if name in ("OperationalError", "InterfaceError", "ConnectTimeout", "ReadTimeout"):
            return True
        if any(marker in str(seen).lower() for marker in _TRANSIENT_MARKERS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextlib.contextmanager
def store_errors(action: str, tracking_uri: str) -> Iterator[None]:
    """Retry only what is worth retrying: a transient store fault becomes RegistryError (the step's
    RetryPolicy retries it); anything else fails the step at once, naming the cause."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise RegistryError(
                f"{action}: MLflow store {tracking_uri} is unreachable ({_first_line(exc)}); will retry"
            ) from exc
        raise dg.Failure(f"{action} failed: {type(exc).__name__}: {_first_line(exc)}", allow_retries=False) from exc
