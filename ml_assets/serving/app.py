"""The FastAPI app: /invocations (MLflow protocol), /ping, /health, /ready, /version, /metrics.

The model is the registry's ``champion``; a watcher thread notices when the alias moves, loads the
new version fully, then swaps one reference. A request holds the reference it started with, so
in-flight requests finish on the old model and none is dropped. Concurrent small requests are
micro-batched into one ``predict_proba`` call.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ml_assets.serving import protocol

log = logging.getLogger("ml_assets.serving")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class Loaded:
    model: Any  # the sklearn Pipeline of the model version
    name: str
    version: str
    alias: str
    run_id: str


@dataclass
class ServerConfig:
    tracking_uri: str
    model_name: str
    alias: str = "champion"
    poll_seconds: float = 5.0
    max_rows: int = 10_000
    max_body_bytes: int = 16 * 1024 * 1024


class ModelHolder:
    """Holds the current model; swaps it atomically when the alias moves."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.current: Loaded | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()

    def _client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.config.tracking_uri, registry_uri=self.config.tracking_uri)

    def refresh(self) -> bool:
        """Load the alias's version if it changed; True when a new model was swapped in."""
        import mlflow.sklearn

        cfg = self.config
        try:
            mv = self._client().get_model_version_by_alias(cfg.model_name, cfg.alias)
        except Exception as exc:  # noqa: BLE001 - the server keeps serving what it has
            self.last_error = f"cannot read {cfg.model_name}@{cfg.alias}: {str(exc).splitlines()[0][:200]}"
            return False
        if self.current is not None and self.current.version == str(mv.version):
            return False
        from ml_assets.resources.mlflow import MlflowResource

        res = MlflowResource(tracking_uri=cfg.tracking_uri, artifact_root="", model_name=cfg.model_name)
        try:
            with res.using_uris():
                model = mlflow.sklearn.load_model(f"models:/{cfg.model_name}/{mv.version}")
        except Exception as exc:  # noqa: BLE001
            self.last_error = f"cannot load version {mv.version}: {str(exc).splitlines()[0][:200]}"
            return False
        loaded = Loaded(model, cfg.model_name, str(mv.version), cfg.alias, mv.run_id or "")
        check = canary(loaded)
        if check is not None:
            self.last_error = f"version {mv.version} failed its canary: {check}"
            return False
        previous = self.current.version if self.current else None
        self.current = loaded  # the swap: one reference assignment
        self.last_error = None
        log.warning("serving %s version %s (was %s)", cfg.model_name, mv.version, previous)
        return True

    def watch(self) -> None:
        while not self._stop.wait(self.config.poll_seconds):
            self.refresh()

    def start(self) -> None:
        self.refresh()
        threading.Thread(target=self.watch, name="alias-watcher", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def canary_frame() -> Any:
    from ml_assets import dataset
    from ml_assets.lib import training

    return training.features_of(dataset.generate_chunk(date(2026, 1, 1), 0, 3))


def canary(loaded: Loaded) -> str | None:
    """None when the model returns finite, well-shaped probabilities for known rows."""
    import numpy as np

    try:
        proba = np.asarray(loaded.model.predict_proba(canary_frame()))
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with the reason
        return f"{type(exc).__name__}: {exc}"
    if proba.shape != (3, 2):
        return f"wrong prediction shape {proba.shape}"
    if not np.isfinite(proba).all() or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6):
        return "predictions are not finite probabilities"
    return None


@dataclass
class Metrics:
    requests: dict[tuple[str, int], int] = field(default_factory=dict)
    latency_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    latency_n: int = 0
    rows: int = 0
    errors: int = 0
    batches: int = 0

    def observe(self, path: str, status: int, seconds: float) -> None:
        self.requests[(path, status)] = self.requests.get((path, status), 0) + 1
        if status >= 400:
            self.errors += 1
        if path == "/invocations":
            i = next((i for i, b in enumerate(LATENCY_BUCKETS) if seconds <= b), len(LATENCY_BUCKETS))
            self.latency_counts[i] += 1
            self.latency_sum += seconds
            self.latency_n += 1

    def render(self, holder: ModelHolder) -> str:
        lines = [
            "# HELP ml_assets_requests_total Requests by path and status.",
            "# TYPE ml_assets_requests_total counter",
        ]
        for (path, status), n in sorted(self.requests.items()):
            lines.append(f'ml_assets_requests_total{{path="{path}",status="{status}"}} {n}')
        lines += [
            "# HELP ml_assets_request_errors_total Requests answered with 4xx or 5xx.",
            "# TYPE ml_assets_request_errors_total counter",
            f"ml_assets_request_errors_total {self.errors}",
        ]
        lines += [
            "# HELP ml_assets_invocation_latency_seconds Latency of /invocations.",
            "# TYPE ml_assets_invocation_latency_seconds histogram",
        ]
        cumulative = 0
        for bound, n in zip((*LATENCY_BUCKETS, float("inf")), self.latency_counts, strict=True):
            cumulative += n
            le = "+Inf" if bound == float("inf") else f"{bound}"
            lines.append(f'ml_assets_invocation_latency_seconds_bucket{{le="{le}"}} {cumulative}')
        lines.append(f"ml_assets_invocation_latency_seconds_sum {self.latency_sum:.6f}")
        lines.append(f"ml_assets_invocation_latency_seconds_count {self.latency_n}")
        lines += ["# TYPE ml_assets_prediction_rows_total counter", f"ml_assets_prediction_rows_total {self.rows}"]
        lines += [
            "# HELP ml_assets_prediction_batches_total predict_proba calls (requests are micro-batched).",
            "# TYPE ml_assets_prediction_batches_total counter",
            f"ml_assets_prediction_batches_total {self.batches}",
        ]
        current = holder.current
        lines += [
            "# HELP ml_assets_model_version The model version being served.",
            "# TYPE ml_assets_model_version gauge",
        ]
        if current is not None:
            lines.append(f'ml_assets_model_version{{model="{current.name}",version="{current.version}"}} 1')
        return "\n".join(lines) + "\n"


class Batcher:
    """Micro-batching with one batch in flight.

    While one batch is predicted, the requests that arrive wait in the socket buffers; before the
    next prediction the loop turns a few times so that every request already readable is parsed
    and joins the batch. Under light load a request is predicted alone (no added delay); under
    heavy load batches grow and the fixed per-call cost of the sklearn Pipeline (~6 ms) is shared.
    Prediction stays on the event-loop thread on purpose: sklearn's transforms are mostly Python,
    and a second thread would wait on the GIL at every switch interval.
    """

    GATHER_TURNS = 3

    def __init__(self, holder: ModelHolder, metrics: Metrics) -> None:
        self.holder = holder
        self.metrics = metrics
        self.pending: list[tuple[protocol.Batch, asyncio.Future[Any]]] = []
        self.running = False
        self.task: asyncio.Task[None] | None = None

    async def predict(self, batch: protocol.Batch) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append((batch, future))
        if not self.running:
            self.running = True
            self.task = loop.create_task(self.drain())
        return await future

    async def drain(self) -> None:
        try:
            while self.pending:
                for _ in range(self.GATHER_TURNS):  # let requests that are already readable join
                    await asyncio.sleep(0)
                items, self.pending = self.pending, []
                loaded = self.holder.current
                try:
                    if loaded is None:
                        raise LookupError("no model loaded yet")
                    frame = protocol.to_frame([b for b, _ in items])
                    proba = loaded.model.predict_proba(frame)
                    self.metrics.batches += 1
                except Exception as exc:  # noqa: BLE001 - each waiting request gets the error
                    for _, fut in items:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                start = 0
                for batch, fut in items:
                    if not fut.done():
                        fut.set_result((proba[start : start + batch.rows], loaded))
                    start += batch.rows
        finally:
            self.running = False


INVOCATIONS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "dataframe_split": {
                        "type": "object",
                        "properties": {
                            "columns": {"type": "array", "items": {"type": "string"}},
                            "data": {"type": "array", "items": {"type": "array"}},
                        },
                    },
                    "dataframe_records": {"type": "array", "items": {"type": "object"}},
                    "instances": {"type": "array", "items": {"type": "object"}},
                    "inputs": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
        "text/csv": {"schema": {"type": "string"}},
    },
}


def create_app(config: ServerConfig, holder: ModelHolder | None = None) -> FastAPI:
    holder = holder or ModelHolder(config)
    metrics = Metrics()
    batcher = Batcher(holder, metrics)
    app = FastAPI(title="ml-assets model server", version="1")
    app.state.holder = holder
    app.state.metrics = metrics

    def respond(path: str, started: float, status: int, body: Any) -> Response:
        metrics.observe(path, status, time.perf_counter() - started)
        return JSONResponse(body, status_code=status)

    @app.get("/ping")
    def ping() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    @app.get("/health")
    def health() -> dict[str, Any]:
        current = holder.current
        return {"status": "ok", "model_loaded": current is not None, "last_error": holder.last_error}

    @app.get("/ready")
    def ready() -> Response:
        current = holder.current
        if current is None:
            return JSONResponse({"ready": False, "reason": holder.last_error or "no model loaded yet"}, 503)
        problem = canary(current)
        if problem is not None:
            return JSONResponse({"ready": False, "reason": problem, "version": current.version}, 503)
        return JSONResponse({"ready": True, "version": current.version})

    @app.get("/version")
    def version() -> Response:
        current = holder.current
        if current is None:
            return JSONResponse({"model_name": config.model_name, "version": None, "alias": config.alias}, 503)
        return JSONResponse(
            {"model_name": current.name, "version": current.version, "alias": current.alias, "run_id": current.run_id}
        )

    @app.get("/metrics")
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(holder), media_type="text/plain; version=0.0.4")

    @app.post("/invocations", openapi_extra={"requestBody": INVOCATIONS_BODY})
    async def invocations(request: Request) -> Response:
        started = time.perf_counter()
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_body_bytes:
            return respond(
                "/invocations",
                started,
                413,
                {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": f"body over {config.max_body_bytes} bytes"},
            )
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > config.max_body_bytes:
                return respond(
                    "/invocations",
                    started,
                    413,
                    {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": f"body over {config.max_body_bytes} bytes"},
                )
        try:
            batch = protocol.parse(bytes(body), request.headers.get("content-type", ""), config.max_rows)
        except protocol.RequestError as exc:
            return respond("/invocations", started, exc.status, exc.body())
        if holder.current is None:
            return respond("/invocations", started, 503, {"error_code": "NOT_READY", "message": "no model loaded"})
        try:
            proba, _ = await batcher.predict(batch)
        except Exception as exc:
            log.exception("prediction failed")
            return respond("/invocations", started, 500, {"error_code": "INTERNAL_ERROR", "message": str(exc)})
        metrics.rows += batch.rows
        return respond("/invocations", started, 200, {"predictions": proba.tolist()})

    @app.on_event("startup")
    def _start() -> None:
        if holder.current is None:
            holder.start()

    @app.on_event("shutdown")
    def _stop() -> None:
        holder.stop()

    return app
