"""The serving watchdog against real processes on 127.0.0.1 and a real Dagster instance."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import dagster as dg
import mlflow
import pytest
import requests

from ml_assets.definitions import build_definitions, resources_for
from ml_assets.lib import registry
from ml_assets.resources import MlflowResource
from ml_assets.resources.deployment import LocalProcessDeployment
from ml_assets.sensors import INCIDENT_TAG, WatchState, decide, serving_health_sensor
from ml_assets_tests.conftest import free_port, mlflow_client, start_server, stop_server
from ml_assets_tests.pipeline_helpers import QUIET, all_assets


def sensor_resources(settings, **overrides):
    res = resources_for(settings)
    res.update(overrides)
    return {k: res[k] for k in ("deployment", "mlflow", "alerts")}


def evaluate(instance, settings, cursor, **overrides):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources=sensor_resources(settings, **overrides))
    started = time.monotonic()
    result = serving_health_sensor(ctx)
    return result, time.monotonic() - started


@pytest.fixture
def instance_for(champion_home):
    with dg.instance_for_test() as inst:
        yield inst


@pytest.mark.e2e
def test_kill_9_is_detected_and_repaired_by_a_redeploy_run(champion_home, instance_for, capsys) -> None:
    settings, instance = champion_home, instance_for
    deployment = resources_for(settings)["deployment"]
    try:
        first = dg.materialize(
            all_assets(settings), selection=["deployed_model"], instance=instance,
            resources=resources_for(settings), run_config=QUIET,
        )  # fmt: skip
        assert first.success
        meta = first.asset_materializations_for_node("deployed_model")[0].metadata
        assert meta["model_version"].value == "1"
        assert meta["canary_max_abs_diff"].value <= 1e-6
        healthy, _ = evaluate(instance, settings, None)
        assert healthy.asset_events[0].metadata["healthy"].value is True

        os.kill(deployment.pid(), signal.SIGKILL)
        time.sleep(0.5)
        # a dead process is certain: the incident opens on the first failed probe
        tick2, _ = evaluate(instance, settings, healthy.cursor)
        assert tick2.asset_events[0].metadata["probe"].value == "connection refused (server process is dead)"
        assert len(tick2.run_requests) == 1
        request = tick2.run_requests[0]
        assert request.run_key.startswith("redeploy-incident-")
        assert "ALERT" in capsys.readouterr().out  # serving_down, once
        tick3, _ = evaluate(instance, settings, tick2.cursor)
        assert [r.run_key for r in tick3.run_requests] == [request.run_key]  # same incident, same remediation

        redeploy = build_definitions(settings).resolve_job_def("redeploy_job")
        run = redeploy.execute_in_process(instance=instance, tags=request.tags, run_config=QUIET)
        assert run.success
        answer = requests.get(f"{deployment.url}/ready", timeout=5)
        assert answer.json() == {"ready": True, "version": "1"}
        recovered, _ = evaluate(instance, settings, tick3.cursor)
        assert recovered.run_requests == []
        assert WatchState.load(recovered.cursor).incident is None
        assert "serving_recovered" in capsys.readouterr().out
    finally:
        deployment.stop()


def hanging_server() -> tuple[socket.socket, int]:
    """Accepts connections and never answers: a hung endpoint."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    return sock, sock.getsockname()[1]


def test_a_hanging_endpoint_is_detected_within_the_probe_timeout(champion_home, instance_for) -> None:
    sock, port = hanging_server()
    try:
        hung = LocalProcessDeployment(port=port, state_dir=str(champion_home.serving_dir), probe_timeout_seconds=2)
        result, seconds = evaluate(instance_for, champion_home, None, deployment=hung)
        assert result.asset_events[0].metadata["probe"].value == "endpoint hangs: no answer within 2s"
        assert seconds < 10  # far inside Dagster's 60-second limit
    finally:
        sock.close()


def test_a_server_with_the_wrong_version_is_unhealthy(champion_home, instance_for) -> None:
    settings = champion_home
    client = mlflow_client(settings)
    name = settings.model_name
    res = MlflowResource(tracking_uri=settings.mlflow_tracking_uri, artifact_root="")
    v1 = client.get_model_version_by_alias(name, "champion")
    with res.using_uris():
        v_new = mlflow.register_model(v1.source, name)
    client.set_registered_model_alias(name, "pinned", "1")
    client.set_registered_model_alias(name, "champion", v_new.version)
    port = free_port()
    proc, _ = start_server(settings, port, alias="pinned")
    try:
        deployment = LocalProcessDeployment(port=port, state_dir=str(settings.serving_dir))
        result, _ = evaluate(instance_for, settings, None, deployment=deployment)
        assert result.asset_events[0].metadata["probe"].value == f"serves version 1, champion is {v_new.version}"
        assert result.asset_events[0].metadata["healthy"].value is False
    finally:
        stop_server(proc)
        client.set_registered_model_alias(name, "champion", "1")


@pytest.mark.e2e
def test_circuit_breaker_rolls_back_to_the_last_healthy_version(
    champion_home, instance_for, monkeypatch, capsys
) -> None:
    settings, instance = champion_home, instance_for
    monkeypatch.setenv("ML_ASSETS_REDEPLOY_LIMIT", "1")
    client = mlflow_client(settings)
    name = settings.model_name
    res = MlflowResource(tracking_uri=settings.mlflow_tracking_uri, artifact_root="")
    with res.using_uris():
        bad = mlflow.register_model(client.get_model_version_by_alias(name, "champion").source, name)
    client.set_registered_model_alias(name, "champion", bad.version)
    # a deployment that can never come up in time: every redeploy run really fails
    broken = LocalProcessDeployment(
        port=free_port(), state_dir=str(settings.serving_dir), startup_timeout_seconds=0.2, probe_timeout_seconds=1
    )
    try:
        state = WatchState(failures=1, first_failure_at=1_000.0, last_healthy_version="1", alerted=True)
        tick, _ = evaluate(instance, settings, state.dump(), deployment=broken)
        request = tick.run_requests[0]
        assert request.run_key == "redeploy-incident-1000000-1"
        resources = resources_for(settings)
        resources["deployment"] = broken
        failed = dg.materialize(
            all_assets(settings), selection=["deployed_model"], instance=instance, resources=resources,
            tags=request.tags, raise_on_error=False, run_config=QUIET,
        )  # fmt: skip
        assert not failed.success
        assert instance.get_runs(filters=dg.RunsFilter(tags={INCIDENT_TAG: "incident-1000000"}))
        tick2, _ = evaluate(instance, settings, tick.cursor, deployment=broken)
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
        assert [r.run_key for r in tick2.run_requests] == ["redeploy-incident-1000000-after-rollback"]
        out = capsys.readouterr().out
        assert "serving_rolled_back" in out
        history = registry.alias_history(client, name)
        assert history[-1]["event"] == "rollback"
        assert history[-1]["to_version"] == "1"
    finally:
        broken.stop()
        client.set_registered_model_alias(name, "champion", "1")


def test_policy_waits_for_k_failures_unless_the_failure_is_certain() -> None:
    fresh = WatchState(last_healthy_version="3")
    assert decide(fresh, False, "endpoint hangs", "3", 1.0, 0, False, 2, 3).run_key is None
    assert decide(fresh, False, "connection refused", "3", 1.0, 0, False, 2, 3, certain=True).run_key is not None


def test_policy_is_deterministic_for_a_replayed_tick() -> None:
    """Crash safety: an evaluation interrupted before its cursor was saved replays from the old
    cursor and must request the very same run key (so Dagster dedupes it)."""
    state = WatchState(failures=1, first_failure_at=123.0, last_healthy_version="3")
    first = decide(state, False, "connection refused", "3", 200.0, 0, False, 2, 3)
    replay = decide(state, False, "connection refused", "3", 260.0, 0, False, 2, 3)
    assert first.run_key == replay.run_key == "redeploy-incident-123000-1"


def test_policy_waits_for_a_running_redeploy_then_escalates() -> None:
    open_incident = WatchState(failures=3, first_failure_at=5.0, last_healthy_version="2", alerted=True)
    waiting = decide(open_incident, False, "x", "4", 10.0, 0, True, 2, 3)
    assert waiting.run_key is None
    second = decide(open_incident, False, "x", "4", 10.0, 1, False, 2, 3)
    assert second.run_key == "redeploy-incident-5000-2"
    breaker = decide(open_incident, False, "x", "4", 10.0, 3, False, 2, 3)
    assert breaker.rollback_to == "2"
    assert breaker.state.rolled_back
    done = decide(breaker.state, False, "x", "2", 11.0, 4, False, 2, 3)
    assert done.run_key is None
    assert done.note == "circuit open: waiting for a human"
    healthy = decide(done.state, True, "ok", "2", 12.0, 0, False, 2, 3)
    assert healthy.state.incident is None
    assert healthy.alerts[0][0] == "serving_recovered"


BROKEN_ANSWERS = {
    "server_error": (500, '{"error": "boom"}', "/invocations answered 500"),
    "nan": (200, '{"predictions": [[NaN, 0.5], [0.5, 0.5], [0.5, 0.5]]}', "NaN or wrong-shaped predictions"),
    "wrong_shape": (200, '{"predictions": [[0.5, 0.5]]}', "NaN or wrong-shaped predictions"),
    "not_json": (200, "<html>gateway</html>", "NaN or wrong-shaped predictions"),
    "rejects_canary": (422, '{"error": "bad"}', "/invocations rejected the canary with 422"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_ANSWERS))
def test_the_probe_recognises_a_broken_model_server(case) -> None:
    """A real HTTP server on 127.0.0.1 standing in for a model server gone wrong: it is ready and
    names a version, but its predictions are broken in one way each."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from ml_assets.resources.deployment import probe_endpoint

    status, body, expected = BROKEN_ANSWERS[case]

    class Broken(BaseHTTPRequestHandler):
        def _send(self, code: int, text: str) -> None:
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(200, '{"status": "ready", "version": "7"}')

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._send(status, body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        probe = probe_endpoint(f"http://127.0.0.1:{server.server_address[1]}", "7", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert probe.healthy is False
    assert probe.reason == expected
    assert probe.version == "7"
