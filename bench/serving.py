"""Serving throughput and latency vs `mlflow models serve --env-manager local` (issue 5).

Same model version, same machine, same payloads, one worker each, 8 concurrent connections.
Single-row and 1,000-row requests; requests/s, p50 and p99 from wrk; contenders interleaved.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import date

from common import ROOT, WORK

CONCURRENCY = 8
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 2


def prepare_home() -> dict[str, str]:
    """A home with a champion trained by `ml-assets run` on 3 x 20,000 demo rows."""
    home = WORK / "serve"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_ASSETS", "MLFLOW", "DAGSTER"))}
    env["ML_ASSETS_HOME"] = str(home)
    if not (home / "mlflow" / "mlflow.db").exists():
        shutil.rmtree(home, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "ml_assets.cli", "run", "--seed-days", "3", "--seed-rows", "20000"],
                       env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{home}/mlflow/mlflow.db"
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"  # mlflow execs `uvicorn` from PATH
    return env


def wait_ready(url: str, path: str, timeout: float = 120) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + path, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}")
wrk.body = f:read("*a")
f:close()
"""


def load(url: str, body: bytes, seconds: float) -> tuple[float, float, float, int]:
    """wrk (a C load generator: a Python client would eat the second core) -> req/s, p50, p99, errors."""
    import re
    import shutil as sh

    if sh.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk: apt-get install wrk")
    WORK.mkdir(parents=True, exist_ok=True)
    body_file = WORK / "body.json"
    body_file.write_bytes(body)
    script = WORK / "post.lua"
    script.write_text(LUA.format(body=body_file))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{seconds:g}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, ms("50%"), ms("99%"), int(errors.group(1)) if errors else 0


def main() -> str:
    from ml_assets import dataset
    from ml_assets.lib import training

    env = prepare_home()
    model_uri = "models:/churn-classifier@champion"
    ours_port, mlflow_port = 18765, 18766
    servers = {
        "ml-assets serve": subprocess.Popen(
            [sys.executable, "-m", "ml_assets.serving", "--port", str(ours_port)], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        ),
        "mlflow models serve": subprocess.Popen(
            [str(ROOT / ".venv/bin/mlflow"), "models", "serve", "-m", model_uri, "-p", str(mlflow_port),
             "--env-manager", "local", "--workers", "1", "-h", "127.0.0.1"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        ),
    }  # fmt: skip
    urls = {
        "ml-assets serve": f"http://127.0.0.1:{ours_port}",
        "mlflow models serve": f"http://127.0.0.1:{mlflow_port}",
    }
    try:
        wait_ready(urls["ml-assets serve"], "/ready")
        wait_ready(urls["mlflow models serve"], "/ping")
        rows = training.features_of(dataset.generate_chunk(date(2026, 2, 1), 0, 1000))
        rows = rows.astype({c: "float64" for c in dataset.NUMERIC_FEATURES})
        bodies = {
            "1 row": json.dumps(
                {"dataframe_split": json.loads(rows.head(1).to_json(orient="split", index=False))}
            ).encode(),
            "1,000 rows": json.dumps(
                {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
            ).encode(),
        }
        results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for rnd in range(ROUNDS):
            for payload, body in bodies.items():
                for name, url in urls.items():
                    load(url + "/invocations", body, 2)  # warm-up
                    rps, p50, p99, errors = load(url + "/invocations", body, SECONDS)
                    if errors:
                        raise SystemExit(f"{name} answered {errors} errors for {payload}")
                    figures = (rps, p50, p99)
                    results.setdefault((payload, name), []).append(figures)
                    print(f"  round {rnd + 1} {payload} {name}: {figures[0]:.0f} req/s p50 {figures[1]:.1f} ms "
                          f"p99 {figures[2]:.1f} ms", file=sys.stderr, flush=True)  # fmt: skip
    finally:
        for proc in servers.values():
            os.killpg(proc.pid, signal.SIGTERM)
    lines = [
        f"### Serving, {CONCURRENCY} connections, one worker each, {SECONDS:g}s per measurement, median of {ROUNDS}",
        "",
        "| payload | server | requests/s | p50 ms | p99 ms | throughput vs mlflow |",
        "|---|---|---|---|---|---|",
    ]
    for payload in bodies:
        base = statistics.median(r[0] for r in results[(payload, "mlflow models serve")])
        for name in urls:
            vals = results[(payload, name)]
            rps = statistics.median(v[0] for v in vals)
            p50 = statistics.median(v[1] for v in vals)
            p99 = statistics.median(v[2] for v in vals)
            lines.append(f"| {payload} | {name} | {rps:.0f} | {p50:.1f} | {p99:.1f} | {rps / base:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
