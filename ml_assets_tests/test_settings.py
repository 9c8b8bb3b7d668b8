import os
import subprocess
import sys

import pytest

from ml_assets.settings import ENV_VARS, REPO_ROOT, get_settings


def test_readme_settings_table_matches_the_code() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ml_assets.cli", "settings", "--markdown"], capture_output=True, text=True, check=True
    )
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("<!-- settings-table")[1].split("-->", 1)[1].split("<!-- /settings-table -->")[0]
    assert block.strip() == out.stdout.strip()


def test_ml_assets_settings_prints_every_variable_with_its_value(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_ASSETS", "MLFLOW", "DAGSTER"))}
    env.update(ML_ASSETS_HOME=str(tmp_path), ML_ASSETS_AUTOMATION="off")
    out = subprocess.run(
        [sys.executable, "-m", "ml_assets.cli", "settings"], capture_output=True, text=True, check=True, env=env
    )
    printed = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert list(printed) == [name for name, _, _ in ENV_VARS]
    assert printed["ML_ASSETS_AUTOMATION"] == "off"
    assert printed["ML_ASSETS_CELERY_BACKEND"] == "redis://127.0.0.1:6379/0"  # Redis is its own backend


@pytest.mark.parametrize(
    ("broker", "backend", "expected"),
    [
        ("redis://r:6379/1", "", "redis://r:6379/1"),
        ("rediss://r:6380/0", "", "rediss://r:6380/0"),
        ("amqp://guest:guest@rabbit:5672//", "", "rpc://"),
        ("amqp://guest:guest@rabbit:5672//", "redis://r:6379/2", "redis://r:6379/2"),
    ],
)
def test_the_celery_result_backend_follows_the_broker(monkeypatch, broker, backend, expected) -> None:
    monkeypatch.setenv("ML_ASSETS_CELERY_BROKER", broker)
    monkeypatch.setenv("ML_ASSETS_CELERY_BACKEND", backend)
    assert get_settings().celery_backend == expected


def test_every_setting_has_an_environment_override(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ML_ASSETS_HOME", str(tmp_path))
    monkeypatch.setenv("ML_ASSETS_LANDING_DIR", str(tmp_path / "in"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://u@h/db")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dg"))
    monkeypatch.setenv("ML_ASSETS_WAREHOUSE_DIR", "s3://bucket/wh")
    monkeypatch.setenv("ML_ASSETS_TRAINING_WINDOW_DAYS", "5")
    s = get_settings()
    assert s.landing_dir == tmp_path / "in"
    assert s.mlflow_tracking_uri == "postgresql://u@h/db"
    assert s.dagster_home == tmp_path / "dg"
    assert s.warehouse_dir == "s3://bucket/wh"
    assert s.training_window_days == 5
    assert len(ENV_VARS) == 24


def test_defaults_live_under_ml_assets_home(tmp_path, monkeypatch) -> None:
    for name, _, _ in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ML_ASSETS_HOME", str(tmp_path))
    s = get_settings()
    for path in (s.landing_dir, s.quarantine_dir, s.dagster_home):
        assert str(path).startswith(str(tmp_path))
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path}/mlflow/mlflow.db"


def test_a_malformed_number_is_named(monkeypatch) -> None:
    monkeypatch.setenv("ML_ASSETS_SERVING_PORT", "eighty")
    with pytest.raises(ValueError, match="ML_ASSETS_SERVING_PORT='eighty' is not an integer"):
        get_settings()


def test_default_home_is_the_repo_dot_ml_assets(monkeypatch) -> None:
    monkeypatch.delenv("ML_ASSETS_HOME", raising=False)
    assert get_settings().home == REPO_ROOT / ".ml_assets"


def test_a_tracking_server_owns_the_artifact_store_unless_told(monkeypatch) -> None:
    monkeypatch.delenv("ML_ASSETS_MLFLOW_ARTIFACT_ROOT", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert get_settings().mlflow_artifact_root == ""  # the server's --artifacts-destination decides
    monkeypatch.setenv("ML_ASSETS_MLFLOW_ARTIFACT_ROOT", "s3://models/artifacts")
    assert get_settings().mlflow_artifact_root == "s3://models/artifacts"


def test_automation_can_start_stopped(monkeypatch) -> None:
    from ml_assets.definitions import build_definitions

    monkeypatch.setenv("ML_ASSETS_AUTOMATION", "off")
    assert get_settings().automation is False
    sensor = build_definitions().get_sensor_def("automation_sensor")
    assert sensor.default_status.value == "STOPPED"
    monkeypatch.setenv("ML_ASSETS_AUTOMATION", "sometimes")
    with pytest.raises(ValueError, match="ML_ASSETS_AUTOMATION='sometimes': use on or off"):
        get_settings()


def test_automation_off_stops_every_sensor_and_the_schedule(tmp_path) -> None:
    # sensors.py reads the setting at import: check it in a fresh interpreter
    code = (
        "from ml_assets.definitions import defs\n"
        "r = defs.get_repository_def()\n"
        "print(sorted({s.default_status.value for s in r.sensor_defs}), r.schedule_defs[0].default_status.value)"
    )
    env = {"ML_ASSETS_AUTOMATION": "off", "ML_ASSETS_HOME": str(tmp_path)}
    import os

    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["['STOPPED']", "STOPPED"]
