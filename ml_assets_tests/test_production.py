"""The production stack against the real services on this machine: PostgreSQL at 127.0.0.1:5432
(trust auth, user postgres) for the Dagster instance and the MLflow store.

These skip only when PostgreSQL is absent, and fail instead under ML_ASSETS_REQUIRE_SERVICES=1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid

import dagster as dg
import pytest
import yaml

from ml_assets.lib import registry
from ml_assets.settings import REPO_ROOT
from ml_assets_tests.conftest import child_env, require_service
from ml_assets_tests.test_registry import RACER

DEPLOY = REPO_ROOT / "deploy"


def _fresh_database():
    require_service("127.0.0.1", 5432, "PostgreSQL")
    import psycopg2

    name = f"ml_assets_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def database():
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    yield from _fresh_database()


@pytest.fixture
def mlflow_database():
    """A second one: Dagster and MLflow each keep an alembic_version table, so never share one."""
    yield from _fresh_database()


def pg_env(db: str) -> dict[str, str]:
    return {
        "DAGSTER_PG_USERNAME": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_DB": db,
    }


@pytest.mark.services
@pytest.mark.e2e
def test_full_graph_on_postgres_dagster_and_postgres_mlflow(database, mlflow_database, tmp_path, monkeypatch) -> None:
    home = tmp_path / "home"
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", dagster_home / "dagster.yaml")
    mlflow_uri = f"postgresql://postgres@127.0.0.1:5432/{mlflow_database}"
    env = child_env(home, DAGSTER_HOME=str(dagster_home), MLFLOW_TRACKING_URI=mlflow_uri, **pg_env(database))
    out = subprocess.run(
        [sys.executable, "-m", "ml_assets.cli", "run", "--seed-days", "3", "--seed-rows", "2000", "--jobs", "2"],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    for key, value in pg_env(database).items():
        monkeypatch.setenv(key, value)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    runs = instance.get_runs()
    assert sorted(r.job_name for r in runs) == ["ingestion_job"] * 3 + ["training_job"]
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    # ingestion runs wrote different partitions side by side: no event lost
    days = sorted(r.tags["dagster/partition"] for r in runs if r.job_name == "ingestion_job")
    records = instance.fetch_materializations(dg.AssetKey("raw_data"), limit=100).records
    assert sorted(r.asset_materialization.partition for r in records) == days
    assert len(instance.fetch_materializations(dg.AssetKey("cleaned_features"), limit=100).records) == 3
    assert len(instance.fetch_materializations(dg.AssetKey("registered_model"), limit=100).records) == 1

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    assert str(client.get_model_version_by_alias("churn-classifier", "champion").version) == "1"
    instance.dispose()


@pytest.mark.services
def test_registry_concurrency_on_a_postgres_mlflow_store(database, tmp_path) -> None:
    from ml_assets.resources.mlflow import ensure_store

    uri = f"postgresql://postgres@127.0.0.1:5432/{database}"
    artifacts = str(tmp_path / "artifacts")
    ensure_store(uri, artifacts, "Default")
    aucs = [0.75, 0.79, 0.77, 0.81, 0.76, 0.80]
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, uri, artifacts, str(a)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for a in aucs
    ]  # fmt: skip
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert sorted(int(r["version"]) for r in results) == list(range(1, len(aucs) + 1))
    promotions = [e for e in registry.alias_history(client, "racer") if e["event"] == "promotion"]
    assert len(promotions) == sum(r["promoted"] for r in results)
    froms = [e["from_version"] for e in promotions]
    assert len(froms) == len(set(froms))  # at most one promotion per decision
    assert float(client.get_model_version_by_alias("racer", "champion").tags["auc"]) == max(aucs)


FIRST_USE = """
import sys, time
from ml_assets.resources.mlflow import ensure_store

uri, root, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))  # every process reaches the empty store at the same moment
print(ensure_store(uri, root, "first-use"))
"""


@pytest.mark.services
def test_first_use_of_an_empty_postgres_store_from_many_processes_agrees_on_one_experiment(database, tmp_path) -> None:
    # Celery workers and run workers on several machines can all be first to touch a new store:
    # the one that loses the race to create the experiment must use the winner's, not fail.
    uri = f"postgresql://postgres@127.0.0.1:5432/{database}"
    start = time.time() + 8  # past every child's imports
    procs = [
        subprocess.Popen([sys.executable, "-c", FIRST_USE, uri, str(tmp_path / "artifacts"), str(start)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]  # fmt: skip
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        ids.append(out.strip().splitlines()[-1])
    assert len(set(ids)) == 1
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    assert [e.name for e in client.search_experiments() if e.name == "first-use"] == ["first-use"]


def test_deploy_configuration_is_valid(database, monkeypatch, tmp_path) -> None:
    # dagster.yaml loads as an instance (Dagster validates it against its own schema)
    for key, value in pg_env(database).items():
        monkeypatch.setenv(key, value)
    instance = dg.DagsterInstance.from_config(str(DEPLOY))
    try:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        concurrency = instance.get_concurrency_config()
        limits = {(x["key"], x["value"]): x["limit"] for x in concurrency.run_queue_config.tag_concurrency_limits}
        assert limits[("ml_assets/stage", "training")] == 1
        # the pool of trained_model and registered_model: one such run at a time, whoever launched it
        assert concurrency.pool_config.pool_granularity.value == "run"
        assert concurrency.pool_config.default_pool_limit == 1
        assert instance.run_monitoring_enabled is True
        assert instance.run_monitoring_max_runtime_seconds == 7200  # no run can hold a slot forever
    finally:
        instance.dispose()
    text = (DEPLOY / "dagster.yaml").read_text()
    assert "password:\n        env: DAGSTER_PG_PASSWORD" in text  # secrets from the environment only

    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagster-user-deployments"]["deployments"][0]["dagsterApiGrpcArgs"] == ["-m", "ml_assets.definitions"]
    assert values["dagsterDaemon"]["runMonitoring"]["enabled"] is True
    assert values["concurrency"]["pools"] == {"granularity": "run", "defaultLimit": 1}
    assert values["retention"]["sensor"]["purgeAfterDays"]["skipped"] == 7

    instructions = [
        line.split()[0]
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith(("#", " "))
    ]
    assert instructions[0] == "FROM"
    assert set(instructions) <= {"FROM", "ENV", "WORKDIR", "COPY", "RUN", "EXPOSE", "CMD"}
    assert "ml_assets.definitions" in (DEPLOY / "Dockerfile").read_text()


def test_the_executor_is_chosen_by_configuration(monkeypatch) -> None:
    from ml_assets.definitions import executor_for
    from ml_assets.settings import get_settings

    assert executor_for(get_settings()).name == "multiprocess"
    monkeypatch.setenv("ML_ASSETS_EXECUTOR", "celery")
    assert executor_for(get_settings()).name == "celery_executor"
    monkeypatch.setenv("ML_ASSETS_EXECUTOR", "k8s")
    assert executor_for(get_settings()).name == "k8s"
    monkeypatch.setenv("ML_ASSETS_EXECUTOR", "spark")  # refused as soon as the settings are read
    with pytest.raises(ValueError, match="ML_ASSETS_EXECUTOR='spark': use multiprocess, celery, k8s"):
        get_settings()


def test_the_deployment_guide_covers_every_process_and_variable() -> None:
    guide = (DEPLOY / "README.md").read_text()
    for item in ("dagster-webserver", "dagster-daemon", "code-server", "PostgreSQL", "mlflow server",
                 "ml-assets serve", "dagster-celery worker", "DAGSTER_PG_PASSWORD", "MLFLOW_TRACKING_URI",
                 "ML_ASSETS_EXECUTOR"):  # fmt: skip
        assert item in guide, item
