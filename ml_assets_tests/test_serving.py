"""The model server as a real process on 127.0.0.1: protocol parity with MLflow, validation, health."""

from __future__ import annotations

import json
import threading
from datetime import date

import mlflow
import mlflow.pyfunc
import numpy as np
import pytest
import requests

from ml_assets import dataset
from ml_assets.lib import training
from ml_assets.resources import MlflowResource
from ml_assets_tests.conftest import free_port, mlflow_client, start_server, stop_server


@pytest.fixture(scope="module")
def server(champion_home):
    proc, url = start_server(champion_home, free_port())
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def rows():
    return training.features_of(dataset.generate_chunk(date(2026, 2, 1), 0, 25))


@pytest.fixture(scope="module")
def reference(champion_home, rows):
    res = MlflowResource(tracking_uri=champion_home.mlflow_tracking_uri, artifact_root="")
    with res.using_uris():
        model = mlflow.pyfunc.load_model(f"models:/{champion_home.model_name}@champion")
    # the signature declares numeric features as double; pyfunc enforces it on a DataFrame
    typed = rows.astype({c: "float64" for c in dataset.NUMERIC_FEATURES})
    return np.asarray(model.predict(typed))


def payloads(rows) -> dict[str, tuple[str, str]]:
    records = json.loads(rows.to_json(orient="records"))
    split = json.loads(rows.to_json(orient="split", index=False))
    columns = {c: [r[c] for r in records] for c in rows.columns}
    js = "application/json"
    return {
        "dataframe_split": (json.dumps({"dataframe_split": split}), js),
        "dataframe_records": (json.dumps({"dataframe_records": records}), js),
        "instances-records": (json.dumps({"instances": records}), js),
        "instances-columns": (json.dumps({"instances": columns}), js),
        "inputs": (json.dumps({"inputs": records}), js),
        "csv": (rows.to_csv(index=False), "text/csv"),
        "json-with-charset": (json.dumps({"dataframe_split": split}), "application/json; charset=utf-8"),
    }


@pytest.mark.parametrize(
    "fmt",
    [
        "dataframe_split",
        "dataframe_records",
        "instances-records",
        "instances-columns",
        "inputs",
        "csv",
        "json-with-charset",
    ],
)
def test_every_payload_format_matches_mlflow_pyfunc(server, rows, reference, fmt) -> None:
    body, content_type = payloads(rows)[fmt]
    answer = requests.post(f"{server}/invocations", data=body, headers={"content-type": content_type}, timeout=10)
    assert answer.status_code == 200, answer.text
    got = np.asarray(answer.json()["predictions"])
    assert got.shape == reference.shape
    np.testing.assert_allclose(got, reference, rtol=0, atol=1e-12)


def _post(server, body, content_type="application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return requests.post(f"{server}/invocations", data=data, headers={"content-type": content_type}, timeout=10)


def _one(rows) -> dict:
    return json.loads(rows.head(1).to_json(orient="records"))[0]


@pytest.mark.parametrize(
    ("name", "status", "text"),
    [
        ("malformed-json", 400, "malformed JSON"),
        ("wrong-content-type", 415, "unsupported content type"),
        ("not-an-object", 400, "must be an object"),
        ("two-formats", 400, "exactly one of"),
        ("missing-column", 400, "missing column(s) ['age']"),
        ("extra-column", 400, "unexpected column(s) ['shoe_size']"),
        ("wrong-type", 422, "column 'age' row 0: expected a number, got 'old'"),
        ("text-for-category", 422, "column 'region' row 0: expected text, got 7"),
        ("nan", 422, "NaN is not a valid number"),
        ("infinity", 422, "Infinity is not a valid number"),
        ("out-of-range", 422, "column 'age' row 0: 250 is outside [18, 100]"),
        ("required-null", 422, "column 'tenure_months' row 0: a value is required"),
        ("empty", 400, "empty input"),
        ("too-many-rows", 413, "more than the limit"),
        ("bad-split", 400, "dataframe_split needs"),
        ("ragged-row", 400, "row 0: expected a list of"),
        ("params", 400, "this model takes no params"),
        ("bad-csv", 400, "missing column"),
    ],
)
def test_bad_requests_get_a_4xx_that_names_the_problem(server, rows, name, status, text) -> None:
    one = _one(rows)
    cases = {
        "malformed-json": lambda: _post(server, "{not json"),
        "wrong-content-type": lambda: _post(server, "x", "application/xml"),
        "not-an-object": lambda: _post(server, [1, 2]),
        "two-formats": lambda: _post(server, {"inputs": [one], "instances": [one]}),
        "missing-column": lambda: _post(server, {"inputs": [{k: v for k, v in one.items() if k != "age"}]}),
        "extra-column": lambda: _post(server, {"inputs": [{**one, "shoe_size": 44}]}),
        "wrong-type": lambda: _post(server, {"inputs": [{**one, "age": "old"}]}),
        "text-for-category": lambda: _post(server, {"inputs": [{**one, "region": 7}]}),
        "nan": lambda: _post(server, json.dumps({"inputs": [{**one, "age": float("nan")}]})),
        "infinity": lambda: _post(server, json.dumps({"inputs": [{**one, "monthly_charges": float("inf")}]})),
        "out-of-range": lambda: _post(server, {"inputs": [{**one, "age": 250}]}),
        "required-null": lambda: _post(server, {"inputs": [{**one, "tenure_months": None}]}),
        "empty": lambda: _post(server, {"dataframe_records": []}),
        "too-many-rows": lambda: _post(server, {"instances": [one] * 10_001}),
        "bad-split": lambda: _post(server, {"dataframe_split": {"data": []}}),
        "ragged-row": lambda: _post(server, {"dataframe_split": {"columns": list(one), "data": [[1, 2]]}}),
        "params": lambda: _post(server, {"inputs": [one], "params": {"threshold": 0.3}}),
        "bad-csv": lambda: _post(server, "a;b\n1;2\n", "text/csv"),
    }
    answer = cases[name]()
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert text in body["message"]
    assert body["error_code"]


def test_unknown_categories_and_missing_values_are_served(server, rows) -> None:
    one = _one(rows)
    answer = _post(server, {"inputs": [{**one, "region": "atlantis", "satisfaction_score": None}]})
    assert answer.status_code == 200
    assert np.isfinite(answer.json()["predictions"]).all()


def test_oversized_body_is_refused(server) -> None:
    answer = requests.post(
        f"{server}/invocations",
        data=b"x" * (17 * 1024 * 1024),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 413


def test_health_version_and_metrics(server, champion_home) -> None:
    assert requests.get(f"{server}/ping", timeout=5).text.strip() == "ok"
    assert requests.get(f"{server}/health", timeout=5).json()["model_loaded"] is True
    assert requests.get(f"{server}/ready", timeout=5).json() == {"ready": True, "version": "1"}
    version = requests.get(f"{server}/version", timeout=5).json()
    champion = mlflow_client(champion_home).get_model_version_by_alias(champion_home.model_name, "champion")
    assert version == {
        "model_name": champion_home.model_name,
        "version": "1",
        "alias": "champion",
        "run_id": champion.run_id,
    }
    text = requests.get(f"{server}/metrics", timeout=5).text
    assert 'ml_assets_model_version{model="churn-classifier",version="1"} 1' in text
    assert "ml_assets_invocation_latency_seconds_bucket" in text
    assert 'ml_assets_requests_total{path="/invocations",status="200"}' in text


def test_champion_moves_are_swapped_in_without_dropping_requests(champion_home, rows) -> None:
    """Register version 2, move the alias while requests are in flight: all succeed, then v2 is served."""
    client = mlflow_client(champion_home)
    name = champion_home.model_name
    proc, url = start_server(champion_home, free_port(), poll=0.5)
    try:
        v1 = client.get_model_version_by_alias(name, "champion")
        res = MlflowResource(tracking_uri=champion_home.mlflow_tracking_uri, artifact_root="")
        with res.using_uris():
            v2 = mlflow.register_model(v1.source, name)
        body = json.dumps({"dataframe_split": json.loads(rows.head(3).to_json(orient="split", index=False))})
        statuses: list[int] = []
        stop = threading.Event()

        def hammer() -> None:
            session = requests.Session()
            while not stop.is_set():
                statuses.append(
                    session.post(
                        f"{url}/invocations", data=body, headers={"content-type": "application/json"}, timeout=10
                    ).status_code
                )

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        client.set_registered_model_alias(name, "champion", v2.version)
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and requests.get(f"{url}/version", timeout=5).json()["version"] != str(
            v2.version
        ):
            time.sleep(0.2)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        assert requests.get(f"{url}/version", timeout=5).json()["version"] == str(v2.version)
        assert len(statuses) > 20
        assert set(statuses) == {200}
    finally:
        client.set_registered_model_alias(name, "champion", "1")
        stop_server(proc)
