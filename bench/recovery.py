"""Time to recover (issue 5, goal <= 30 s): `kill -9` of the model server until `/ready` passes again,
driven by the real Dagster daemon running serving_health_sensor at a 10-second interval."""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests
from common import ROOT
from serving import prepare_home

PORT = 18780
MODULE = "ml_assets.definitions"
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/ready", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def main() -> str:
    env = prepare_home()
    home = Path(env["ML_ASSETS_HOME"])
    env.update(
        ML_ASSETS_SERVING_PORT=str(PORT), ML_ASSETS_HEALTH_INTERVAL_SECONDS="10", DAGSTER_HOME=str(home / "dagster")
    )
    subprocess.run(
        [sys.executable, "-m", "ml_assets.cli", "init"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{PORT}"
    deploy = subprocess.run(
        [str(ROOT / ".venv/bin/dagster"), "asset", "materialize", "--select", "deployed_model",
         "-m", "ml_assets.definitions"],
        env=env, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    if deploy.returncode != 0 or not ready(url):
        raise SystemExit(f"initial deployment failed:\n{deploy.stderr[-2000:]}")
    daemon = subprocess.Popen(
        [str(ROOT / ".venv/bin/dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    pid_file = home / "serving" / f"server-{PORT}.pid"
    times: list[float] = []
    try:
        time.sleep(25)  # the sensor records a healthy probe first
        for i in range(ROUNDS):
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            while ready(url):  # until the port is really closed
                time.sleep(0.05)
            deadline = killed + 180
            while not ready(url) and time.monotonic() < deadline:
                time.sleep(0.2)
            if not ready(url):
                raise SystemExit("the endpoint did not come back within 180 s")
            times.append(time.monotonic() - killed)
            print(f"  round {i + 1}: recovered in {times[-1]:.1f}s", file=sys.stderr, flush=True)
            time.sleep(22)  # let the sensor close the incident with a healthy probe
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        with contextlib.suppress(OSError, ValueError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
    return "\n".join(
        [
            "### Time to recover from kill -9 (dagster-daemon, sensor interval 10 s)",
            "",
            "| rounds | median s | min s | max s |",
            "|---|---|---|---|",
            f"| {len(times)} | {statistics.median(times):.1f} | {min(times):.1f} | {max(times):.1f} |",
        ]
    )


if __name__ == "__main__":
    print(main())
