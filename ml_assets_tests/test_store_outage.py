"""A transient MLflow outage: the tracking server is down when training starts and comes up a few
seconds later. The step's RetryPolicy (exponential backoff, jitter) retries, and the run succeeds.

The store is a real `mlflow server` process on 127.0.0.1; nothing is faked."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from ml_assets.definitions import TRAINING, resources_for
from ml_assets.resources import MlflowResource
from ml_assets_tests.conftest import free_port, land_demo
from ml_assets_tests.pipeline_helpers import QUIET, all_assets, failure_messages, ingest_days


@pytest.mark.e2e
def test_a_transient_store_outage_is_retried_then_succeeds(settings, instance, tmp_path, monkeypatch) -> None:
    land_demo(settings, days=2, rows=2_000)
    assert all(r.success for r in ingest_days(settings, instance).values())

    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's own client retries would hide the outage
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    resources = resources_for(settings)
    resources["mlflow"] = MlflowResource(
        tracking_uri=uri, artifact_root=str(tmp_path / "artifacts"), model_name=settings.model_name
    )
    mlflow_bin = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    server: list[subprocess.Popen] = []

    def come_back_later() -> None:
        time.sleep(10)  # training reaches MLflow after a few seconds: this outage outlasts that
        server.append(
            subprocess.Popen(
                [
                    mlflow_bin,
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    "1",
                    "--backend-store-uri",
                    f"sqlite:///{tmp_path}/server.db",
                    "--default-artifact-root",
                    str(tmp_path / "artifacts"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    threading.Thread(target=come_back_later, daemon=True).start()
    try:
        result = dg.materialize(
            all_assets(settings), selection=TRAINING, instance=instance, resources=resources,
            raise_on_error=False, run_config=QUIET,
        )  # fmt: skip
        restarts = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
        assert restarts, f"no retry; success={result.success}; failures={failure_messages(result)}"
        assert {e.step_key for e in restarts} == {"trained_model"}
        assert result.success
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        assert str(client.get_model_version_by_alias(settings.model_name, "champion").version) == "1"
    finally:
        for proc in server:
            import os
            import signal

            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
