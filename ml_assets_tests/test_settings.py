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
    assert len(ENV_VARS) == 22


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
