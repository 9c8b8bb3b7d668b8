"""The `ml-assets` command, run as a real subprocess against a temporary ML_ASSETS_HOME."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from ml_assets_tests.conftest import child_env, mlflow_client

CLI = [sys.executable, "-m", "ml_assets.cli"]


def run_cli(home: Path, *args: str, timeout: int = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=child_env(home, **env), timeout=timeout)


def test_demo_data_writes_the_requested_days(tmp_path) -> None:
    out = run_cli(tmp_path, "demo-data", "--days", "2", "--rows-per-day", "300", "--format", "csv")
    assert out.returncode == 0, out.stderr
    files = sorted((tmp_path / "landing").glob("*.csv"))
    assert len(files) == 2
    assert sum(1 for _ in files[0].open()) == 301  # header + rows
    assert "rows" in out.stderr  # the progress bar


def test_demo_data_rejects_a_bad_format(tmp_path) -> None:
    out = run_cli(tmp_path, "demo-data", "--format", "xlsx")
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


@pytest.mark.e2e
def test_run_on_an_empty_home_materializes_everything_and_leaves_a_champion(tmp_path) -> None:
    out = run_cli(tmp_path, "run", "--seed-days", "3", "--seed-rows", "2000")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "seeding 3 days" in out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith(("ingestion_job", "training_job"))]
    assert len(lines) == 4
    assert all("SUCCESS" in line for line in lines)
    import os

    from ml_assets.settings import get_settings

    os.environ["ML_ASSETS_HOME"] = str(tmp_path)
    try:
        settings = get_settings()
        champion = mlflow_client(settings).get_model_version_by_alias(settings.model_name, "champion")
    finally:
        os.environ.pop("ML_ASSETS_HOME")
    assert str(champion.version) == "1"
    # the runs are on the instance under ML_ASSETS_HOME, so the UI shows them
    assert (tmp_path / "dagster" / "history" / "runs.db").exists() or (tmp_path / "dagster" / "history").exists()


def test_run_with_a_missing_landing_zone_fails_in_one_line(tmp_path) -> None:
    out = run_cli(tmp_path, "run", "--no-seed", ML_ASSETS_LANDING_DIR=str(tmp_path / "nowhere"))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert "does not exist" in out.stderr
    assert "Traceback" not in out.stderr


def test_run_with_an_empty_landing_zone_and_no_seed_fails_in_one_line(tmp_path) -> None:
    (tmp_path / "landing").mkdir(parents=True)
    out = run_cli(tmp_path, "run", "--no-seed")
    assert out.returncode == 2
    assert "is empty" in out.stderr
    assert "Traceback" not in out.stderr


def test_run_with_an_unreachable_mlflow_store_fails_in_one_line(tmp_path) -> None:
    (tmp_path / "landing").mkdir(parents=True)
    (tmp_path / "landing" / "churn_2026-01-01.csv").write_text("customer_id\n1\n")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store's directory should be")
    out = run_cli(tmp_path, "run", MLFLOW_TRACKING_URI=f"sqlite:///{blocker}/mlflow.db")
    assert out.returncode == 2
    assert "MLflow store" in out.stderr
    assert "MLFLOW_TRACKING_URI" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.e2e
def test_run_reports_an_unreadable_file_by_name_and_leaves_it_untouched(tmp_path) -> None:
    landing = tmp_path / "landing"
    run_cli(tmp_path, "demo-data", "--days", "2", "--rows-per-day", "1500", "--format", "csv")
    bad = sorted(landing.glob("*.csv"))[0]
    bad.write_bytes(b"\x00\x01garbage;;;\n\xff\xfe")
    digest = hashlib.sha256(bad.read_bytes()).hexdigest()
    out = run_cli(tmp_path, "run")
    assert out.returncode == 1
    assert bad.name in out.stdout
    assert "FAILURE" in out.stdout
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == digest
    assert bad.exists()
