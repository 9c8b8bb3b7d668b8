"""Champion/challenger against a real MLflow SQLite store: the gate, failures, rollback, races."""

import json
import subprocess
import sys
import textwrap

import dagster as dg
import pytest

from ml_assets.definitions import build_definitions
from ml_assets.errors import RegistryError
from ml_assets.lib import registry
from ml_assets_tests.conftest import child_env, land_demo, mlflow_client
from ml_assets_tests.pipeline_helpers import check_results, failure_messages, ingest_days, train


def trained(**config) -> dict:
    return {"ops": {"trained_model": {"config": config}}}


def champion_version(settings) -> str:
    return str(mlflow_client(settings).get_model_version_by_alias(settings.model_name, "champion").version)


@pytest.fixture
def landed(settings, instance):
    land_demo(settings, days=2, rows=4_000)
    assert all(r.success for r in ingest_days(settings, instance).values())
    return settings


def test_worse_challenger_is_rejected_and_a_better_one_promoted(landed, instance) -> None:
    settings = landed
    # at 8,000 rows: max_iter=5 scores ~0.741, 3 iterations at lr 0.05 ~0.740, 40 at lr 0.05 ~0.758
    assert train(settings, instance, trained(max_iter=5)).success
    assert champion_version(settings) == "1"

    worse = train(settings, instance, trained(max_iter=3, learning_rate=0.05))
    assert worse.success
    gate = check_results(worse)["champion_quality_gate"]
    assert not gate.passed
    assert "does not beat the champion" in gate.description
    assert champion_version(settings) == "1"
    meta = worse.asset_materializations_for_node("registered_model")[0].metadata
    assert meta["promoted"].value is False
    assert "keep the current champion" in meta["decision"].value

    better = train(settings, instance, trained(max_iter=40, learning_rate=0.05))
    assert check_results(better)["champion_quality_gate"].passed
    assert champion_version(settings) == "3"
    history = registry.alias_history(mlflow_client(settings), settings.model_name)
    assert [(e["event"], e["from_version"], e["to_version"]) for e in history] == [
        ("promotion", None, "1"),
        ("promotion", "1", "3"),
    ]
    assert all(e["run_id"] and e["at"] and e["reason"] for e in history)


def test_a_training_crash_keeps_the_champion(landed, instance) -> None:
    settings = landed
    assert train(settings, instance).success
    crashed = train(settings, instance, trained(learning_rate=-1.0))
    assert not crashed.success
    assert "training crashed" in " ".join(failure_messages(crashed))
    steps = [e for e in crashed.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert steps == []  # a programming/parameter error is not retried
    assert champion_version(settings) == "1"
    assert len(mlflow_client(settings).search_model_versions(f"name='{settings.model_name}'")) == 1


def test_constant_predictions_keep_the_champion(landed, instance) -> None:
    settings = landed
    assert train(settings, instance).success
    flat = train(settings, instance, trained(learning_rate=1e-12, max_iter=2))
    assert not flat.success
    assert "constant score" in " ".join(failure_messages(flat))
    assert champion_version(settings) == "1"


def test_rollback_job_and_its_refusals(landed, instance) -> None:
    settings = landed
    defs = build_definitions(settings)
    job = defs.resolve_job_def("rollback_job")

    nothing = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not nothing.success
    assert "no registered model" in " ".join(failure_messages(nothing))

    assert train(settings, instance, trained(max_iter=5)).success
    assert train(settings, instance, trained(max_iter=40, learning_rate=0.05)).success
    assert champion_version(settings) == "2"

    first = job.execute_in_process(
        instance=instance, run_config={"ops": {"rollback_champion": {"config": {"from_version": "2"}}}}
    )
    assert first.success
    assert champion_version(settings) == "1"
    again = job.execute_in_process(
        instance=instance, run_config={"ops": {"rollback_champion": {"config": {"from_version": "2"}}}}
    )
    assert again.success  # idempotent: the same request changes nothing
    assert champion_version(settings) == "1"

    refused = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not refused.success
    assert "nothing to roll back to" in " ".join(failure_messages(refused))
    assert champion_version(settings) == "1"
    events = [e["event"] for e in registry.alias_history(mlflow_client(settings), settings.model_name)]
    assert events == ["promotion", "promotion", "rollback"]


def test_cli_rollback(landed, instance, ml_home) -> None:
    settings = landed
    cli = [sys.executable, "-m", "ml_assets.cli", "rollback"]
    out = subprocess.run(cli, capture_output=True, text=True, env=child_env(ml_home))
    assert out.returncode == 2
    assert "no registered model" in out.stderr
    assert train(settings, instance, trained(max_iter=5)).success
    assert train(settings, instance, trained(max_iter=40, learning_rate=0.05)).success
    out = subprocess.run([*cli, "--from-version", "2"], capture_output=True, text=True, env=child_env(ml_home))
    assert out.returncode == 0, out.stderr
    assert "version 2 -> version 1" in out.stdout
    out = subprocess.run([*cli, "--from-version", "2"], capture_output=True, text=True, env=child_env(ml_home))
    assert out.returncode == 0
    assert "nothing to do" in out.stdout
    out = subprocess.run(cli, capture_output=True, text=True, env=child_env(ml_home))
    assert out.returncode == 2
    assert "nothing to roll back to" in out.stderr
    assert "Traceback" not in out.stderr


RACER = textwrap.dedent(
    """
    import json, sys
    import numpy as np, mlflow
    from sklearn.linear_model import LogisticRegression
    from ml_assets.lib import registry
    from ml_assets.resources.mlflow import MlflowResource

    uri, root, auc = sys.argv[1], sys.argv[2], float(sys.argv[3])
    res = MlflowResource(tracking_uri=uri, artifact_root=root, model_name="racer")
    client = res.client()
    X = np.random.default_rng(0).normal(size=(50, 3)); y = (X[:, 0] > 0).astype(int)
    with res.active_run("racer") as run:
        info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model")
    with res.using():
        mv = registry.register_version(client, "racer", info.model_uri, run.info.run_id, {"auc": str(auc)})

    def decide(current):
        champ = None if current is None else {"roc_auc": float(current.tags["auc"]), "version": current.version}
        gate = registry.GateConfig()
        return registry.decide({"roc_auc": auc, "calibration_error": 0.0}, {"roc_auc": 0.5}, champ, gate)

    decision, previous = registry.promote(client, uri, "racer", mv.version, decide, f"racer-{auc}")
    print(json.dumps({"version": str(mv.version), "promoted": decision.promote, "previous": previous}))
    """
)


def test_concurrent_registrations_never_corrupt_or_double_promote(settings) -> None:
    from ml_assets.resources.mlflow import ensure_store

    ensure_store(settings.mlflow_tracking_uri, settings.mlflow_artifact_root, "Default")
    aucs = [0.75, 0.78, 0.76, 0.80, 0.77, 0.79]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, settings.mlflow_tracking_uri, settings.mlflow_artifact_root, str(a)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for a in aucs
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    client = mlflow_client(settings)
    versions = sorted(int(r["version"]) for r in results)
    assert versions == list(range(1, len(aucs) + 1))  # unique, no gaps, no errors
    history = registry.alias_history(client, "racer")
    promotions = [e for e in history if e["event"] == "promotion"]
    assert len(promotions) == sum(r["promoted"] for r in results)
    froms = [e["from_version"] for e in promotions]
    assert len(froms) == len(set(froms))  # every decision saw a different champion: no double promotion
    champion = client.get_model_version_by_alias("racer", "champion")
    assert float(champion.tags["auc"]) == max(aucs)
    chain = [e["to_version"] for e in promotions]
    assert [e["from_version"] for e in promotions[1:]] == chain[:-1]  # one linear chain of champions


def test_rollback_with_no_champion_is_refused(settings) -> None:
    from ml_assets.resources.mlflow import ensure_store

    ensure_store(settings.mlflow_tracking_uri, settings.mlflow_artifact_root, settings.experiment_name)
    client = mlflow_client(settings)
    client.create_registered_model("empty")
    with pytest.raises(RegistryError, match="has no champion"):
        registry.rollback(client, settings.mlflow_tracking_uri, "empty", "test", "r1")


def test_gate_unit_cases() -> None:
    g = registry.GateConfig()
    assert registry.decide({"roc_auc": 0.8, "calibration_error": 0.02}, {"roc_auc": 0.5}, None, g).promote
    low = registry.decide({"roc_auc": 0.65, "calibration_error": 0.02}, {"roc_auc": 0.5}, None, g)
    assert not low.promote
    assert "threshold" in low.summary
    assert not registry.decide({"roc_auc": float("nan")}, {"roc_auc": 0.5}, None, g).promote
    assert not registry.decide({"roc_auc": 0.8, "calibration_error": 0.3}, {"roc_auc": 0.5}, None, g).promote
    assert not registry.decide({"roc_auc": 0.74, "calibration_error": 0.0}, {"roc_auc": 0.72}, None, g).promote
    champ = {"roc_auc": 0.81, "version": "4"}
    assert not registry.decide({"roc_auc": 0.80, "calibration_error": 0.0}, {"roc_auc": 0.5}, champ, g).promote
    assert registry.decide({"roc_auc": 0.82, "calibration_error": 0.0}, {"roc_auc": 0.5}, champ, g).promote
    strict = registry.GateConfig(min_improvement=0.05)
    assert not registry.decide({"roc_auc": 0.82, "calibration_error": 0.0}, {"roc_auc": 0.5}, champ, strict).promote


def test_the_seed_scenario_a_failed_build_leaves_a_deployable_champion(landed, instance) -> None:
    settings = landed
    assert train(settings, instance).success
    assert not train(settings, instance, trained(learning_rate=-1.0)).success
    import mlflow.pyfunc

    from ml_assets.resources import MlflowResource

    res = MlflowResource(tracking_uri=settings.mlflow_tracking_uri, artifact_root=settings.mlflow_artifact_root)
    with res.using():
        model = mlflow.pyfunc.load_model(f"models:/{settings.model_name}@champion")
    import pandas as pd

    example = pd.read_parquet(next((settings.home / "warehouse" / "cleaned_features").glob("*.parquet"))).head(5)
    from ml_assets.lib import training

    proba = model.predict(training.features_of(example))
    assert proba.shape == (5, 2)
    assert dg.AssetKey("registered_model")  # the asset the UI shows for it


def test_registering_the_same_training_run_twice_returns_its_first_version(settings) -> None:
    """A step retried (or a run re-executed after its worker died between registering and reporting
    success) must not mint a second version of the same model."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from ml_assets.resources import MlflowResource

    res = MlflowResource(tracking_uri=settings.mlflow_tracking_uri, artifact_root=settings.mlflow_artifact_root)
    client = res.client()
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    uris = {}
    for name in ("first", "second"):
        with res.active_run(name) as run:
            uris[run.info.run_id] = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model").model_uri
    (run_a, uri_a), (run_b, uri_b) = uris.items()
    with res.using():
        v1 = registry.register_version(client, "idem", uri_a, run_a, {})
        again = registry.register_version(client, "idem", uri_a, run_a, {})
        v2 = registry.register_version(client, "idem", uri_b, run_b, {})
    assert (str(v1.version), str(again.version), str(v2.version)) == ("1", "1", "2")
    assert len(client.search_model_versions("name='idem'")) == 2
