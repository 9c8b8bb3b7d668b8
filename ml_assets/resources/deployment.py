"""Deployment targets for the model server.

``DeploymentTarget`` is the interface assets and sensors use: ``deploy``, ``probe``, ``stop``.
``LocalProcessDeployment`` (the embedded default) supervises a uvicorn process with its port,
pid file and log under ML_ASSETS_HOME/serving. A production variant implements the same three
methods against a Kubernetes Deployment or any HTTP endpoint (``HttpEndpointDeployment``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from ml_assets.errors import DeploymentFailed


@dataclass
class Probe:
    healthy: bool
    reason: str  # "ok" or what was wrong: dead process, refused, hang, 5xx, bad predictions, wrong version
    version: str | None = None
    latency_ms: float | None = None


def probe_endpoint(url: str, expected_version: str | None, timeout: float) -> Probe:
    """One real canary prediction through the endpoint, bounded by ``timeout`` per request."""
    import requests

    from ml_assets.lib.training import features_of

    started = time.perf_counter()
    try:
        ready = requests.get(f"{url}/ready", timeout=timeout)
        if ready.status_code >= 500 and ready.status_code != 503:
            return Probe(False, f"/ready answered {ready.status_code}")
        if ready.status_code == 503:
            return Probe(False, f"not ready: {ready.json().get('reason', '')}"[:200])
        served = str(ready.json().get("version"))
        frame = features_of(canary_rows())
        payload = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
        answer = requests.post(f"{url}/invocations", json=payload, timeout=timeout)
    except requests.ConnectionError as exc:
        text = str(exc)
        return Probe(False, "connection refused" if "refused" in text.lower() else f"connection error: {text[:150]}")
    except requests.Timeout:
        return Probe(False, f"endpoint hangs: no answer within {timeout:g}s")
    except (requests.RequestException, ValueError) as exc:
        return Probe(False, f"probe failed: {exc}"[:200])
    latency = (time.perf_counter() - started) * 1000
    if answer.status_code >= 500:
        return Probe(False, f"/invocations answered {answer.status_code}", served, latency)
    if answer.status_code != 200:
        return Probe(False, f"/invocations rejected the canary with {answer.status_code}", served, latency)
    try:
        predictions = answer.json()["predictions"]
        ok = len(predictions) == len(frame) and all(
            len(row) == 2 and all(isinstance(p, float | int) and math.isfinite(p) for p in row) for row in predictions
        )
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        return Probe(False, "NaN or wrong-shaped predictions", served, latency)
    if expected_version is not None and served != str(expected_version):
        return Probe(False, f"serves version {served}, champion is {expected_version}", served, latency)
    return Probe(True, "ok", served, latency)


def canary_rows() -> Any:
    from datetime import date

    from ml_assets import dataset

    return dataset.generate_chunk(date(2026, 1, 1), 0, 3)


class DeploymentTarget(dg.ConfigurableResource):
    """Where the champion is served. Subclasses implement deploy/stop; probing is shared."""

    probe_timeout_seconds: float = 3.0

    @property
    def url(self) -> str:
        raise NotImplementedError

    def deploy(self, model_name: str, version: str, tracking_uri: str) -> dict[str, Any]:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def probe(self, expected_version: str | None) -> Probe:
        return probe_endpoint(self.url, expected_version, self.probe_timeout_seconds)

    def process_dead(self) -> bool:
        """True only when the target knows for certain that the server process is gone."""
        return False

    def wait_until_serving(self, version: str, timeout: float) -> Probe:
        deadline = time.monotonic() + timeout
        result = Probe(False, "not probed")
        while time.monotonic() < deadline:
            result = self.probe(version)
            if result.healthy:
                return result
            time.sleep(0.5)
        return result


class LocalProcessDeployment(DeploymentTarget):
    """A supervised uvicorn process on this machine; state under ``state_dir``."""

    host: str = "127.0.0.1"
    port: int = 8765
    state_dir: str
    startup_timeout_seconds: float = 90.0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return Path(self.state_dir) / f"server-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return Path(self.state_dir) / f"server-{self.port}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        try:  # a killed child not yet reaped is a zombie: dead, whatever kill(0) says
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                return None
        except (OSError, IndexError):
            pass
        return pid

    def process_dead(self) -> bool:
        return self.pid_file.exists() and self.pid() is None

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.2)
        if self.pid() is not None:
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    def start(self, model_name: str, tracking_uri: str) -> int:
        Path(self.state_dir).mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "ml_assets.serving",
            "--host", self.host, "--port", str(self.port),
            "--model-name", model_name, "--tracking-uri", tracking_uri,
            "--poll-seconds", "2", "--pid-file", str(self.pid_file),
        ]  # fmt: skip
        with open(self.log_file, "ab") as log:
            # its own session: the server outlives the run that started it, and is killed as a group
            proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def deploy(self, model_name: str, version: str, tracking_uri: str) -> dict[str, Any]:
        """Serve ``version``: a healthy running server picks the alias move up by itself; anything
        else (dead, hung, wrong version after a grace period) is restarted. Verified by a canary."""
        current = self.probe(version)
        restarted = False
        if not current.healthy:
            if self.pid() is not None and current.version is not None and current.version != version:
                current = self.wait_until_serving(version, 15)  # the alias watcher swaps within seconds
            if not current.healthy:
                self.stop()
                self.start(model_name, tracking_uri)
                restarted = True
                current = self.wait_until_serving(version, self.startup_timeout_seconds)
        if not current.healthy:
            tail = self.log_file.read_text()[-800:] if self.log_file.exists() else ""
            raise DeploymentFailed(
                f"model server at {self.url} did not pass its canary for version {version}: {current.reason}"
                + (f"\nserver log tail:\n{tail}" if tail else "")
            )
        return {"url": self.url, "pid": self.pid(), "restarted": restarted, "latency_ms": current.latency_ms}


class HttpEndpointDeployment(DeploymentTarget):
    """An endpoint someone else runs (a Kubernetes Service, a managed endpoint) that follows the
    registry alias by itself: deploying means verifying it serves the new version."""

    endpoint_url: str
    rollout_timeout_seconds: float = 120.0

    @property
    def url(self) -> str:
        return self.endpoint_url.rstrip("/")

    def deploy(self, model_name: str, version: str, tracking_uri: str) -> dict[str, Any]:
        result = self.wait_until_serving(version, self.rollout_timeout_seconds)
        if not result.healthy:
            raise DeploymentFailed(f"{self.url} did not start serving version {version}: {result.reason}")
        return {"url": self.url, "pid": None, "restarted": False, "latency_ms": result.latency_ms}

    def stop(self) -> None:
        """Nothing to stop from here: the platform that runs the endpoint owns its lifecycle."""
