"""The production stack, assembled from real processes on this machine, as deploy/README.md says:

- the Dagster instance from ``deploy/dagster.yaml`` on a fresh PostgreSQL database;
- an ``mlflow server`` with its own fresh PostgreSQL database as backend store and a local
  artifact destination, reached through ``MLFLOW_TRACKING_URI=http://...`` alone;
- a ``dagster-celery worker`` on Redis (127.0.0.1:6379) that runs every step;
- for the crash, pool and run-monitoring tests, ``dagster-daemon`` and ``dagster-webserver``
  on the same instance;
- and separately, a worker on the machine's RabbitMQ (127.0.0.1:5672): the broker is configuration.

Nothing is faked. These tests skip only when PostgreSQL, Redis or RabbitMQ is absent, and fail instead
under ML_ASSETS_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import requests
import yaml

from ml_assets.settings import REPO_ROOT
from ml_assets_tests.conftest import child_env, free_port, require_service
from ml_assets_tests.test_e2e_dev import processes_of, wait_for
from ml_assets_tests.test_production import DEPLOY, _fresh_database, pg_env

pytestmark = [pytest.mark.services, pytest.mark.e2e]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    return shutil.which(name, path=str(BIN)) or shutil.which(name) or name


def descendants(pid: int) -> set[int]:
    """``pid`` and every process below it, from /proc."""
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


class Stack:
    """Processes started for one module, stopped (every one of them) at the end."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env, self.procs = root, env, {}

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process group
        proc = subprocess.Popen(cmd, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=log, start_new_session=True)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        for line in processes_of(self.root):  # code servers and run workers outlive their parents
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(line.split(":")[0]), signal.SIGKILL)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_service("127.0.0.1", 5432, "PostgreSQL")
    require_service("127.0.0.1", 6379, "Redis")
    dagster_db_gen, mlflow_db_gen = _fresh_database(), _fresh_database()
    dagster_db, mlflow_db = next(dagster_db_gen), next(mlflow_db_gen)
    root = tmp_path_factory.mktemp("stack")
    home, dagster_home = root / "home", root / "dagster_home"
    dagster_home.mkdir()
    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    config["run_monitoring"]["poll_interval_seconds"] = 3  # the only change: a test cannot wait 30 s
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))
    broker = f"redis://127.0.0.1:6379/{random.randint(8, 15)}"
    mlflow_port = free_port()
    env = child_env(
        home,
        DAGSTER_HOME=str(dagster_home),
        MLFLOW_TRACKING_URI=f"http://127.0.0.1:{mlflow_port}",
        ML_ASSETS_EXECUTOR="celery",
        ML_ASSETS_CELERY_BROKER=broker,
        ML_ASSETS_AUTOMATION="off",  # this test launches every run itself
        **pg_env(dagster_db),
    )
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # dagster-celery execs `celery` from PATH
    celery_yaml = root / "celery.yaml"
    celery_yaml.write_text(yaml.safe_dump({"execution": {"config": {"broker": broker, "backend": broker}}}))
    s = Stack(root, env)
    try:
        s.start("mlflow", [
            _tool("mlflow"), "server", "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1",
            "--backend-store-uri", f"postgresql://postgres@127.0.0.1:5432/{mlflow_db}",
            "--artifacts-destination", str(root / "mlflow-artifacts"),
        ])  # fmt: skip
        worker = s.start("worker", [
            _tool("dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(celery_yaml),
            "-n", "steps", "--", "--concurrency", "2",
        ])  # fmt: skip
        wait_for("the MLflow server", lambda: _up(f"http://127.0.0.1:{mlflow_port}/health"), 180)
        wait_for("the Celery worker", lambda: " ready." in s.log("worker") or worker.poll() is not None, 120, 1)
        assert worker.poll() is None, s.log("worker")[-3000:]
        yield {
            "stack": s, "env": env, "home": home, "dagster_home": dagster_home, "db": dagster_db,
            "worker": worker, "artifacts": root / "mlflow-artifacts", "mlflow_uri": env["MLFLOW_TRACKING_URI"],
        }  # fmt: skip
    finally:
        s.stop()
        for gen in (dagster_db_gen, mlflow_db_gen):
            with contextlib.suppress(StopIteration):
                next(gen)


@pytest.fixture
def instance(stack, monkeypatch):
    for key, value in pg_env(stack["db"]).items():
        monkeypatch.setenv(key, value)
    inst = dg.DagsterInstance.from_config(str(stack["dagster_home"]))
    yield inst
    inst.dispose()


def events(instance: dg.DagsterInstance, run_id: str, kind: str) -> list:
    return [e for e in instance.all_logs(run_id) if e.dagster_event and e.dagster_event.event_type_value == kind]


def test_the_pipeline_runs_every_step_on_a_celery_worker(stack, instance) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ml_assets.cli", "run", "--seed-days", "2", "--seed-rows", "3000", "--jobs", "2"],
        env=stack["env"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:] + stack["stack"].log("worker")[-3000:]

    runs = instance.get_runs()
    assert sorted(r.job_name for r in runs) == ["ingestion_job"] * 2 + ["training_job"]
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    worker_pids = descendants(stack["worker"].pid)
    expected = {"ingestion_job": {"ingestion", "cleaned_features"},
                "training_job": {"trained_model", "model_evaluation", "registered_model"}}  # fmt: skip
    for run in runs:
        starts = events(instance, run.run_id, "STEP_START")
        assert {e.step_key for e in starts} == expected[run.job_name]
        # each step ran inside the worker's process tree, not in the process that ran the job
        orchestrator = {e.dagster_event.pid for e in events(instance, run.run_id, "PIPELINE_START")}
        step_pids = {e.dagster_event.pid for e in starts}
        assert step_pids <= worker_pids, (run.job_name, step_pids, worker_pids)
        assert not step_pids & orchestrator
        handoffs = [e.message for e in events(instance, run.run_id, "ENGINE_EVENT") if "in celery worker" in e.message]
        assert len(handoffs) == len(expected[run.job_name])

    # MLflow through MLFLOW_TRACKING_URI alone: the server's Postgres store and artifact destination
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=stack["mlflow_uri"], registry_uri=stack["mlflow_uri"])
    champion = client.get_model_version_by_alias("churn-classifier", "champion")
    assert str(champion.version) == "1"
    assert any(stack["artifacts"].rglob("MLmodel")), "model artifacts were not stored by the MLflow server"


@pytest.fixture(scope="module")
def control_plane(stack) -> str:
    """dagster-daemon (queue, run monitoring) and dagster-webserver (GraphQL) on the stack's instance."""
    s, ui_port = stack["stack"], free_port()
    s.start("daemon", [_tool("dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")])
    s.start("webserver", [_tool("dagster-webserver"), "-h", "127.0.0.1", "-p", str(ui_port),
                          "-w", str(REPO_ROOT / "workspace.yaml")])  # fmt: skip
    wait_for("the Dagster webserver", lambda: _up(f"http://127.0.0.1:{ui_port}/server_info"), 180)
    return f"http://127.0.0.1:{ui_port}"


def _submit(ui: str, job: str, tags: dict[str, str] | None = None) -> str:
    from dagster_graphql import DagsterGraphQLClient

    port = int(ui.rsplit(":", 1)[1])
    return DagsterGraphQLClient("127.0.0.1", port_number=port).submit_job_execution(job, tags=tags)


def test_a_killed_run_worker_fails_the_run_and_a_reexecution_registers_once(stack, control_plane, instance) -> None:
    """kill -9 of the process running a training run (its step keeps running on the Celery worker).
    The run is marked failed, and a re-execution from failure through GraphQL — what the UI's
    button sends — finishes the run with exactly one new model version."""
    from mlflow import MlflowClient

    ui = control_plane
    client = MlflowClient(tracking_uri=stack["mlflow_uri"], registry_uri=stack["mlflow_uri"])
    versions_before = len(client.search_model_versions("name='churn-classifier'"))
    assert versions_before >= 1, "the previous test leaves a champion behind"

    run_id = _submit(ui, "training_job")

    def training_started():
        started = events(instance, run_id, "PIPELINE_START")
        steps = [e for e in events(instance, run_id, "STEP_START") if e.step_key == "trained_model"]
        return started and steps and started[0].dagster_event.pid

    run_worker = wait_for("the queued run to reach trained_model", training_started, 240, every=0.3)
    assert run_worker not in descendants(stack["worker"].pid)
    os.kill(run_worker, signal.SIGKILL)

    wait_for("the dead run to be marked failed",
             lambda: instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE, 120, 1)  # fmt: skip
    messages = " ".join(e.message for e in instance.all_logs(run_id) if e.message)
    assert "SIGKILL" in messages, messages[-2000:]

    # the orphaned step finishes on the worker; wait for it so the re-execution's plan is stable
    def step_ended():
        return events(instance, run_id, "STEP_SUCCESS") or events(instance, run_id, "STEP_FAILURE")

    wait_for("the orphaned trained_model step to end", step_ended, 240, 1)

    mutation = """mutation($parent: String!) {
      launchPipelineReexecution(reexecutionParams: {parentRunId: $parent, strategy: FROM_FAILURE}) {
        __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
    reply = requests.post(f"{ui}/graphql", json={"query": mutation, "variables": {"parent": run_id}}, timeout=60)
    launched = reply.json()["data"]["launchPipelineReexecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    child_id = launched["run"]["runId"]
    wait_for("the re-execution to finish", lambda: instance.get_run_by_id(child_id).is_finished, 300, 1)
    child = instance.get_run_by_id(child_id)
    assert child.status == dg.DagsterRunStatus.SUCCESS, [e.message for e in instance.all_logs(child_id)][-20:]
    assert child.parent_run_id == run_id

    # trained once (in the killed run, on the worker), registered once (in the re-execution)
    trained = [
        e for r in (run_id, child_id) for e in events(instance, r, "STEP_SUCCESS") if e.step_key == "trained_model"
    ]
    registered = [
        e for r in (run_id, child_id) for e in events(instance, r, "STEP_SUCCESS") if e.step_key == "registered_model"
    ]
    assert len(trained) == 1
    assert len(registered) == 1
    assert len(client.search_model_versions("name='churn-classifier'")) == versions_before + 1
    materialized = instance.fetch_materializations(dg.AssetKey("registered_model"), limit=100).records
    assert [r.run_id for r in materialized if r.run_id in (run_id, child_id)] == [child_id]


def test_run_monitoring_stops_a_training_over_its_max_runtime_and_keeps_the_champion(
    stack, control_plane, instance
) -> None:
    """The training job's `dagster/max_runtime` tag (1 h by default) enforced by the daemon's run
    monitoring: here 2 seconds, so the run is stopped mid-training and nothing is registered."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=stack["mlflow_uri"], registry_uri=stack["mlflow_uri"])
    champion = client.get_model_version_by_alias("churn-classifier", "champion").version
    versions_before = len(client.search_model_versions("name='churn-classifier'"))
    run_id = _submit(control_plane, "training_job", tags={"dagster/max_runtime": "2"})

    def stopped():
        run = instance.get_run_by_id(run_id)
        return run.is_finished and run

    run = wait_for("run monitoring to stop the run", stopped, 180, 1)
    assert run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
    messages = " ".join(e.message for e in instance.all_logs(run_id) if e.message)
    assert "maximum runtime of 2 seconds" in messages.lower(), messages[-2000:]
    assert not [e for e in events(instance, run_id, "STEP_SUCCESS") if e.step_key == "registered_model"]
    assert client.get_model_version_by_alias("churn-classifier", "champion").version == champion
    assert len(client.search_model_versions("name='churn-classifier'")) == versions_before


def _materialize(ui: str, assets: list[str]) -> str:
    """What the UI's Materialize button sends: a run of the implicit asset job, with no job tags
    (the same shape as the automation sensor's runs)."""
    gql = f"{ui}/graphql"
    where = requests.post(gql, json={"query": "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"},
                          timeout=60).json()  # fmt: skip
    location = where["data"]["workspaceOrError"]["locationEntries"][0]["name"]
    mutation = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
      __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
    selector = {"repositoryLocationName": location, "repositoryName": "__repository__", "jobName": "__ASSET_JOB",
                "assetSelection": [{"path": [a]} for a in assets]}  # fmt: skip
    reply = requests.post(gql, json={"query": mutation, "variables": {"params": {"selector": selector}}}, timeout=60)
    launched = reply.json()["data"]["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def test_one_training_at_a_time_whoever_launches_it(stack, control_plane, instance) -> None:
    """deploy/dagster.yaml puts trained_model and registered_model in the pool "training" at run
    granularity. A training_job run (tagged ml_assets/stage=training) and an untagged
    materialization of the same assets, submitted together, run one after the other."""
    in_progress = {dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING}
    tagged = _submit(control_plane, "training_job")
    untagged = _materialize(control_plane, ["trained_model", "model_evaluation", "registered_model"])
    assert instance.get_run_by_id(untagged).tags.get("ml_assets/stage") is None

    samples = []

    def both_finished():
        statuses = [instance.get_run_by_id(r).status for r in (tagged, untagged)]
        samples.append(statuses)
        return all(s not in in_progress and s != dg.DagsterRunStatus.QUEUED for s in statuses)

    wait_for("both trainings to finish", both_finished, 600, 0.5)
    for run_id in (tagged, untagged):
        run = instance.get_run_by_id(run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS, [e.message for e in instance.all_logs(run_id)][-20:]
    assert not [s for s in samples if all(x in in_progress for x in s)], "the two trainings overlapped"
    assert [s for s in samples if dg.DagsterRunStatus.QUEUED in s and any(x in in_progress for x in s)], (
        "one training should have waited in the queue while the other ran"
    )
    first, second = sorted((instance.get_run_record_by_id(r) for r in (tagged, untagged)), key=lambda r: r.start_time)
    assert second.start_time >= first.end_time


def test_the_broker_is_configuration_rabbitmq_works_too(tmp_path) -> None:
    """ML_ASSETS_CELERY_BROKER=amqp://… (the machine's RabbitMQ) and nothing else: the result
    backend defaults to rpc:// for it, and every step still runs on a real worker. The instance
    and the MLflow store are the embedded SQLite ones: only the broker differs from the stack."""
    require_service("127.0.0.1", 5672, "RabbitMQ")
    broker = "amqp://guest:guest@127.0.0.1:5672//"
    home, worker_home = tmp_path / "home", tmp_path / "worker-dagster"
    worker_home.mkdir()
    env = child_env(home, ML_ASSETS_EXECUTOR="celery", ML_ASSETS_CELERY_BROKER=broker, ML_ASSETS_AUTOMATION="off")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    celery_yaml = tmp_path / "celery.yaml"
    celery_yaml.write_text(yaml.safe_dump({"execution": {"config": {"broker": broker, "backend": "rpc://"}}}))
    # the worker CLI keeps its generated Celery config under an instance root of its own; the steps
    # open the instance named in each task
    s = Stack(tmp_path, {**env, "DAGSTER_HOME": str(worker_home)})
    try:
        worker = s.start("worker", [
            _tool("dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(celery_yaml),
            "-n", "rabbit", "--", "--concurrency", "2",
        ])  # fmt: skip
        wait_for("the Celery worker", lambda: " ready." in s.log("worker") or worker.poll() is not None, 120, 1)
        assert worker.poll() is None, s.log("worker")[-3000:]
        out = subprocess.run(
            [sys.executable, "-m", "ml_assets.cli", "run", "--seed-days", "1", "--seed-rows", "2000", "--jobs", "1"],
            env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:] + s.log("worker")[-3000:]
        instance = dg.DagsterInstance.from_config(str(home / "dagster"))
        try:
            runs = instance.get_runs()
            assert sorted(r.job_name for r in runs) == ["ingestion_job", "training_job"]
            worker_pids = descendants(worker.pid)
            steps = [e for r in runs for e in events(instance, r.run_id, "STEP_START")]
            assert {e.step_key for e in steps} == {
                "ingestion", "cleaned_features", "trained_model", "model_evaluation", "registered_model",
            }  # fmt: skip
            assert {e.dagster_event.pid for e in steps} <= worker_pids
        finally:
            instance.dispose()
    finally:
        s.stop()
