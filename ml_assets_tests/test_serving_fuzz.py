"""Fuzz the model server's own OpenAPI schema with schemathesis (a real subprocess, a real server).

Zero 5xx responses are allowed, whatever the generated payloads (positive and negative modes)."""

import subprocess

import pytest

from ml_assets_tests.conftest import free_port, start_server, stop_server


@pytest.mark.e2e
def test_schemathesis_finds_no_server_errors(champion_home, tmp_path) -> None:
    import shutil
    import sys
    from pathlib import Path

    st = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    proc, url = start_server(champion_home, free_port())
    try:
        out = subprocess.run(
            [
                st, "run", f"{url}/openapi.json",
                "--checks", "not_a_server_error",
                "--max-examples", "60",
                "--generation-deterministic",
                "--request-timeout", "10",
                "--mode", "all",
            ],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
        assert "/invocations" in out.stdout
        from requests import get

        metrics = get(f"{url}/metrics", timeout=5).text
        assert 'status="500"' not in metrics
        assert 'path="/invocations",status="4' in metrics  # the negative cases really reached validation
    finally:
        stop_server(proc)
