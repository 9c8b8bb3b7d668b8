"""Shared fixtures: every test gets its own ML_ASSETS_HOME with real stores inside it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from ml_assets import dataset
from ml_assets.settings import Settings, get_settings

OVERRIDES = [
    "ML_ASSETS_LANDING_DIR",
    "ML_ASSETS_WAREHOUSE_DIR",
    "ML_ASSETS_QUARANTINE_DIR",
    "MLFLOW_TRACKING_URI",
    "ML_ASSETS_MLFLOW_ARTIFACT_ROOT",
    "DAGSTER_HOME",
    "ML_ASSETS_SERVING_PORT",
]
# Demo days end here in tests, so partition keys are stable and never in the future.
END_DAY = date.today() - timedelta(days=1)


@pytest.fixture
def ml_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ml_home"
    monkeypatch.setenv("ML_ASSETS_HOME", str(home))
    for name in OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    (home / "dagster").mkdir(parents=True)
    return home


@pytest.fixture
def settings(ml_home: Path) -> Settings:
    s = get_settings()
    s.ensure_dirs()
    return s


@pytest.fixture
def instance(settings: Settings) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test(temp_dir=str(settings.dagster_home)) as inst:
        yield inst


def land_demo(settings: Settings, days: int = 3, rows: int = 3_000, fmt: str = "parquet") -> list[Path]:
    return dataset.write_demo_data(settings.landing_dir, days, rows, fmt, end_date=END_DAY, progress=False)


def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
    env["ML_ASSETS_HOME"] = str(home)
    env.pop("DAGSTER_HOME", None)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_service(host: str, port: int, name: str) -> None:
    """Skip when a service is truly absent, unless CI demands it (ML_ASSETS_REQUIRE_SERVICES=1)."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        message = f"{name} is not reachable at {host}:{port} ({exc})"
        if os.environ.get("ML_ASSETS_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and ML_ASSETS_REQUIRE_SERVICES=1")
        pytest.skip(message)


def mlflow_client(settings: Settings):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


@pytest.fixture(scope="module")
def champion_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """An ML_ASSETS_HOME with two landed days and a small trained champion (version 1)."""
    from ml_assets_tests.pipeline_helpers import ingest_days, train

    home = tmp_path_factory.mktemp("champion") / "ml_home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ML_ASSETS_HOME", str(home))
        for name in OVERRIDES:
            mp.delenv(name, raising=False)
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.setenv("ML_ASSETS_SERVING_PORT", str(free_port()))
        (home / "dagster").mkdir(parents=True)
        s = get_settings()
        s.ensure_dirs()
        land_demo(s, days=2, rows=3_000)
        with dg.instance_for_test(temp_dir=str(s.dagster_home)) as inst:
            ingest_days(s, inst)
            result = train(s, inst, {"ops": {"trained_model": {"config": {"max_iter": 20}}}})
            assert result.success
        yield s


def start_server(settings: Settings, port: int, alias: str = "champion", poll: float = 1.0):
    import subprocess
    import sys
    import time

    import requests

    log = open(settings.home / f"server-{port}.log", "ab")  # noqa: SIM115 - closed by stop_server
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "ml_assets.serving", "--port", str(port), "--alias", alias,
            "--tracking-uri", settings.mlflow_tracking_uri, "--model-name", settings.model_name,
            "--poll-seconds", str(poll),
        ],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/ready", timeout=2).status_code == 200:
                return proc, url
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server did not become ready: {(settings.home / f'server-{port}.log').read_text()[-2000:]}")


def stop_server(proc) -> None:
    import os
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
