"""landing_zone_sensor and drift_retraining_sensor against a real instance and real files."""

import os
import time

import dagster as dg

from ml_assets import dataset
from ml_assets.lib import landing
from ml_assets.partitions import landed_days
from ml_assets.resources import LandingZone
from ml_assets.sensors import drift_retraining_sensor, landing_zone_sensor
from ml_assets_tests.conftest import END_DAY, land_demo


def age(path, seconds: float = 60) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def tick(instance, settings, cursor):
    ctx = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"landing_zone": LandingZone(path=str(settings.landing_dir))}
    )
    return landing_zone_sensor(ctx)


def test_each_file_is_ingested_once_and_again_when_replaced(settings, instance) -> None:
    files = land_demo(settings, days=2, rows=200)
    for f in files:
        age(f)
    first = tick(instance, settings, None)
    assert first.run_requests == []  # first look: size/mtime recorded, not yet known to be stable
    second = tick(instance, settings, first.cursor)
    assert sorted(r.partition_key for r in second.run_requests) == sorted(dataset.partition_key_for(f) for f in files)
    assert second.dynamic_partitions_requests[0].partition_keys == sorted(dataset.partition_key_for(f) for f in files)
    third = tick(instance, settings, second.cursor)
    assert third.run_requests == []  # idempotent: nothing new

    dataset.write_demo_data(settings.landing_dir, 1, 300, "parquet", end_date=END_DAY, seed=99, progress=False)
    replaced = settings.landing_dir / dataset.landed_file_name(END_DAY, "parquet")
    age(replaced, 30)
    tick4 = tick(instance, settings, third.cursor)
    tick5 = tick(instance, settings, tick4.cursor)
    assert [r.partition_key for r in tick4.run_requests + tick5.run_requests] == [END_DAY.isoformat()]
    old_key = next(r.run_key for r in second.run_requests if r.partition_key == END_DAY.isoformat())
    assert (tick4.run_requests + tick5.run_requests)[0].run_key != old_key  # new content, new run


def test_partial_files_wait_until_complete(settings, instance) -> None:
    tmp = settings.landing_dir / "churn_2026-01-05.csv.tmp"
    tmp.write_text("customer_id\n1\n")
    fresh = settings.landing_dir / "churn_2026-01-06.csv"
    fresh.write_text("customer_id\n1\n")  # mtime is now: maybe still being written
    a = tick(instance, settings, None)
    b = tick(instance, settings, a.cursor)
    assert b.run_requests == []
    age(fresh)
    c = tick(instance, settings, b.cursor)
    d = tick(instance, settings, c.cursor)
    assert [r.partition_key for r in c.run_requests + d.run_requests] == ["2026-01-06"]


def test_unmappable_files_are_reported_not_crashed_on(settings, instance) -> None:
    (settings.landing_dir / "README.txt").write_text("notes")
    (settings.landing_dir / "churn_latest.csv").write_text("x")
    (settings.landing_dir / "churn_2026-02-30.csv").write_text("x")
    decision = landing.scan(settings.landing_dir, landing.LandingState())
    assert decision.new_skips == {
        "README.txt": "not a .csv/.parquet file",
        "churn_latest.csv": "no valid YYYY-MM-DD date in the name",
        "churn_2026-02-30.csv": "no valid YYYY-MM-DD date in the name",
    }
    again = landing.scan(settings.landing_dir, decision.state)
    assert again.new_skips == {}  # reported once
    result = tick(instance, settings, None)
    assert result.run_requests == []


def test_an_interrupted_evaluation_replays_to_the_same_run_keys(settings, instance) -> None:
    """Crash safety: if the tick that requested runs dies before its cursor is stored, the replay
    from the previous cursor asks for the same run keys, which Dagster deduplicates."""
    files = land_demo(settings, days=2, rows=200)
    for f in files:
        age(f)
    first = tick(instance, settings, None)
    crashed = tick(instance, settings, first.cursor)
    replay = tick(instance, settings, first.cursor)
    assert [r.run_key for r in crashed.run_requests] == [r.run_key for r in replay.run_requests]
    assert len(crashed.run_requests) == 2


def test_drift_sensor_requests_retraining_only_on_high_drift(instance) -> None:
    instance.add_dynamic_partitions(landed_days.name, ["2026-01-01", "2026-01-02"])
    calm = dg.AssetMaterialization("cleaned_features", partition="2026-01-01", metadata={"high_drift": False})
    instance.report_runless_asset_event(calm)
    ctx = dg.build_sensor_context(instance=instance)
    calm_out = list(drift_retraining_sensor(ctx))  # an asset sensor yields its results
    assert len(calm_out) == 1
    assert isinstance(calm_out[0], dg.SkipReason)
    drifted = dg.AssetMaterialization("cleaned_features", partition="2026-01-02", metadata={"high_drift": True})
    instance.report_runless_asset_event(drifted)
    out = list(drift_retraining_sensor(dg.build_sensor_context(instance=instance, cursor=ctx.cursor)))
    assert len(out) == 1
    request = out[0]
    assert isinstance(request, dg.RunRequest)
    assert request.run_key.startswith("drift-")
    assert request.tags["ml_assets/trigger"] == "drift"
