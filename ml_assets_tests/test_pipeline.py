"""The whole graph through dg.materialize, against a real MLflow SQLite store."""

import hashlib

import dagster as dg

from ml_assets.definitions import build_definitions
from ml_assets.lib import ingest, registry
from ml_assets_tests.conftest import land_demo, mlflow_client
from ml_assets_tests.pipeline_helpers import QUIET, all_assets, check_results, ingest_days, train


def _digest(paths):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_full_graph_registers_a_champion(settings, instance) -> None:
    files = land_demo(settings, days=3, rows=4_000)
    before = _digest(files)
    for day, result in ingest_days(settings, instance).items():
        assert result.success, day
        raw = result.asset_materializations_for_node("ingestion")
        meta = {m.asset_key.to_user_string(): m.metadata for m in raw}
        assert meta["raw_data"]["input_rows"].value == 4_000
        assert meta["raw_data"]["clean_rows"].value + meta["raw_data"]["quarantined_rows"].value == 4_000
        assert "dagster/column_schema" in result.asset_materializations_for_node("cleaned_features")[0].metadata
    result = train(settings, instance)
    assert result.success
    trained = result.asset_materializations_for_node("trained_model")[0].metadata
    assert trained["holdout_roc_auc"].value > 0.7
    assert trained["train_rows"].value + trained["holdout_rows"].value == 12_000
    run_id = trained["mlflow_run_id"].value

    client = mlflow_client(settings)
    champion = client.get_model_version_by_alias(settings.model_name, "champion")
    assert champion.run_id == run_id
    assert champion.tags["ml_assets.partitions"].count(",") == 2
    assert len(champion.tags["ml_assets.data_hash"]) == 16
    run = client.get_run(run_id)
    assert run.data.params["max_iter"] == "150"
    assert "holdout_roc_auc" in run.data.metrics
    assert "eval_roc_auc" in run.data.metrics
    history = registry.alias_history(client, settings.model_name)
    assert [e["event"] for e in history] == ["promotion"]
    assert check_results(result)["champion_quality_gate"].passed
    assert _digest(files) == before  # landed files are read, never written


def test_identical_retraining_keeps_the_champion(settings, instance) -> None:
    land_demo(settings, days=2, rows=3_000)
    ingest_days(settings, instance)
    assert train(settings, instance).success
    second = train(settings, instance)
    assert second.success
    gate = check_results(second)["champion_quality_gate"]
    assert not gate.passed
    assert "does not beat the champion" in gate.description
    client = mlflow_client(settings)
    assert str(client.get_model_version_by_alias(settings.model_name, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(settings.model_name, "challenger").version) == "2"


def test_automation_never_requests_features_for_a_blocked_day(settings, instance) -> None:
    """Check results are per landed day: a clean later day must not unblock an earlier bad one."""
    import pandas as pd

    from ml_assets.checks.data_contracts import RAW_CONTRACT
    from ml_assets.definitions import resources_for
    from ml_assets.partitions import landed_days

    first, _ = sorted(land_demo(settings, days=2, rows=1_000))
    bad = pd.read_parquet(first)
    bad.loc[bad.index[:100], "age"] = -3  # 10% of the day breaks the contract: over the 1% tolerance
    bad.to_parquet(first, index=False)
    blocked_day, clean_day = sorted(ingest.list_landed_files(settings.landing_dir))
    instance.add_dynamic_partitions(landed_days.name, [blocked_day, clean_day])
    defs = build_definitions(settings)
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)

    # raw data only (the blocked day first, the clean day last), then let automation decide
    results = {}
    for day in (blocked_day, clean_day):
        results[day] = dg.materialize(
            all_assets(settings), selection=dg.AssetSelection.assets("raw_data", "quarantined_rows"),
            partition_key=day, instance=instance, resources=resources_for(settings), raise_on_error=False,
            run_config=QUIET,
        )  # fmt: skip
    assert not check_results(results[blocked_day])[RAW_CONTRACT].passed
    assert check_results(results[clean_day])[RAW_CONTRACT].passed
    assert {e.partition for e in results[blocked_day].get_asset_check_evaluations()} == {blocked_day}

    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.get_requested_partitions(dg.AssetKey("cleaned_features")) == {clean_day}
