"""The bad-input corpus: each fault, landed as a real file and run through a real dg.materialize,
with its exact expected outcome. Every case also proves that nothing was lost: either
clean + quarantined == input rows, or the batch failed and its landed file is unchanged."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from ml_assets import dataset
from ml_assets_tests.conftest import END_DAY
from ml_assets_tests.pipeline_helpers import check_results, failure_messages, ingest_days

ROWS = 3_000
DAY = END_DAY
rng = np.random.default_rng(0)


def good_frame() -> pd.DataFrame:
    return dataset.generate_chunk(DAY, 0, ROWS)


def rows(n: int, start: int = 100) -> slice:
    return slice(start, start + n - 1)  # .loc slices are inclusive


@dataclass
class Case:
    id: str
    make: Callable[[], bytes | pd.DataFrame]
    fmt: str = "csv"
    # one of: "pass", "quarantine", "blocked", "fail"
    outcome: str = "pass"
    quarantined: int = 0
    message: str = ""  # must appear in the failure message or the failing check's metadata/description
    failing_check: str = ""


def csv_bytes(df: pd.DataFrame, **kw) -> bytes:
    return df.to_csv(index=False, **kw).encode("utf-8")


def wrong_dtype() -> pd.DataFrame:
    df = good_frame().astype({"age": object})
    df["age"] = "forty-two"
    return df


def rename() -> pd.DataFrame:
    return good_frame().rename(columns={"region": "area"})


def extra() -> pd.DataFrame:
    return good_frame().assign(favourite_color="blue")


def all_nan_required() -> pd.DataFrame:
    return good_frame().assign(tenure_months=np.nan)


def out_of_range() -> pd.DataFrame:
    df = good_frame()
    df.loc[rows(20), "age"] = 7
    return df


def infinities() -> pd.DataFrame:
    df = good_frame()
    df.loc[rows(10), "monthly_charges"] = np.inf
    df.loc[rows(5, 500), "monthly_charges"] = -np.inf
    return df


def unseen_category() -> pd.DataFrame:
    df = good_frame()
    df.loc[rows(12), "region"] = "atlantis"
    return df


def duplicate_ids() -> pd.DataFrame:
    df = good_frame()
    df.loc[rows(10, 1000), dataset.ID] = df.loc[rows(10, 0), dataset.ID].to_numpy()
    return df


def future_timestamps() -> pd.DataFrame:
    df = good_frame()
    df.loc[rows(8), dataset.TIMESTAMP] = pd.Timestamp.now(tz="UTC") + timedelta(days=2)
    return df


def truncated() -> bytes:
    data = csv_bytes(good_frame())
    return data[: len(data) - 40]  # cut inside the last row


def latin1() -> bytes:
    df = good_frame()
    text = df.to_csv(index=False)
    return text.replace("north", "nörth", 1).encode("latin-1")


def label_in_features() -> pd.DataFrame:
    df = good_frame()
    df["churn_flag"] = df[dataset.LABEL]
    return df


def label_proxy() -> pd.DataFrame:
    df = good_frame()
    df["discount_pct"] = df[dataset.LABEL] * 40 + rng.uniform(0, 5, len(df)).round(1)
    return df


def id_as_feature() -> pd.DataFrame:
    df = good_frame()
    df["days_since_last_login"] = np.arange(len(df), dtype=float)
    return df


def bad_fraction(fraction: float) -> Callable[[], pd.DataFrame]:
    def make() -> pd.DataFrame:
        df = good_frame()
        n = round(ROWS * fraction)
        idx = rng.choice(ROWS, n, replace=False)
        half = n // 2
        df.loc[idx[:half], "age"] = -1
        df.loc[idx[half:], "contract_type"] = "lifetime"
        return df

    return make


def all_nan_nullable() -> pd.DataFrame:
    return good_frame().assign(satisfaction_score=np.nan)


CASES = [
    Case("clean-csv", good_frame),
    Case("clean-parquet", good_frame, fmt="parquet"),
    Case("wrong-dtype", wrong_dtype, outcome="fail", message="column 'age' cannot be coerced to a number"),
    Case(
        "missing-column",
        lambda: good_frame().drop(columns=["region"]),
        outcome="fail",
        message="missing column(s) ['region']",
    ),
    Case("renamed-column", rename, outcome="fail", message="was 'region' renamed to 'area'?"),
    Case("extra-column", extra, outcome="fail", message="unexpected column(s) ['favourite_color']"),
    Case(
        "all-nan-required-column",
        all_nan_required,
        outcome="blocked",
        quarantined=ROWS,
        message="tenure_months",
        failing_check="raw_data_contract",
    ),
    Case("all-nan-nullable-column", all_nan_nullable),
    Case("out-of-range", out_of_range, outcome="quarantine", quarantined=20, message="age: below 18"),
    Case("infinities", infinities, outcome="quarantine", quarantined=15, message="monthly_charges: infinite"),
    Case("unseen-category", unseen_category, outcome="quarantine", quarantined=12, message="region: unknown category"),
    Case("duplicate-ids", duplicate_ids, outcome="quarantine", quarantined=10, message="customer_id: duplicate id"),
    Case("future-timestamps", future_timestamps, outcome="quarantine", quarantined=8, message="not_in_future"),
    Case("empty-file", lambda: b"", outcome="fail", message="file is empty (0 bytes)"),
    Case(
        "header-only",
        lambda: csv_bytes(good_frame().head(0)),
        outcome="fail",
        message="file has a header but no rows",
    ),
    Case("truncated-csv", truncated, outcome="fail", message="file is truncated"),
    Case("latin-1-bytes", latin1, outcome="fail", message="not valid UTF-8"),
    Case(
        "semicolon-delimiter",
        lambda: csv_bytes(good_frame(), sep=";"),
        outcome="fail",
        message="semicolon-delimited",
    ),
    Case(
        "corrupt-parquet", lambda: b"PAR1 this is not parquet", fmt="parquet", outcome="fail", message="not a readable"
    ),
    Case(
        "label-in-features",
        label_in_features,
        outcome="blocked",
        message="churn_flag",
        failing_check="no_label_in_features",
    ),
    Case("label-proxy", label_proxy, outcome="blocked", message="discount_pct", failing_check="no_label_proxies"),
    Case(
        "id-as-feature",
        id_as_feature,
        outcome="blocked",
        message="days_since_last_login",
        failing_check="no_id_like_features",
    ),
    Case("half-percent-bad-rows", bad_fraction(0.005), outcome="quarantine", quarantined=15, message="age: below 18"),
    Case(
        "thirty-percent-bad-rows",
        bad_fraction(0.30),
        outcome="blocked",
        quarantined=900,
        message="30.0% of rows break the contract",
        failing_check="raw_data_contract",
    ),
]


def land(settings, case: Case) -> tuple[str, str]:
    made = case.make()
    path = settings.landing_dir / dataset.landed_file_name(DAY, case.fmt)
    if isinstance(made, bytes):
        path.write_bytes(made)
    elif case.fmt == "parquet":
        made.to_parquet(path, index=False)
    else:
        path.write_bytes(csv_bytes(made))
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


def stored_rows(settings, asset: str, base: str | None = None) -> int | None:
    path = f"{base or settings.warehouse_dir}/{asset}/{DAY.isoformat()}.parquet"
    try:
        return len(pd.read_parquet(path))
    except FileNotFoundError:
        return None


def check_text(evaluation) -> str:
    parts = [evaluation.description or ""]
    parts += [str(v.value) for v in evaluation.metadata.values()]
    return " ".join(parts)


def test_the_corpus_is_big_enough() -> None:
    faults = [c for c in CASES if not c.id.startswith("clean")]
    assert len(faults) >= 18
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_corpus(settings, instance, case: Case) -> None:
    path, digest = land(settings, case)
    result = ingest_days(settings, instance)[DAY.isoformat()]
    checks = check_results(result)

    # the landed file is never touched, whatever happened
    with open(path, "rb") as landed:
        assert hashlib.sha256(landed.read()).hexdigest() == digest

    if case.outcome == "fail":
        assert not result.success
        text = " ".join(failure_messages(result))
        assert case.message in text, text
        assert path in text  # the message names the file
        assert stored_rows(settings, "raw_data") is None  # nothing half-ingested
        return

    # a failed blocking check fails its step (and so the run): nothing downstream runs
    assert result.success == (case.outcome != "blocked")
    clean = stored_rows(settings, "raw_data")
    quarantined = stored_rows(settings, "quarantined_rows", str(settings.quarantine_dir))
    assert clean + quarantined == ROWS  # nothing dropped silently
    assert quarantined == case.quarantined
    meta = result.asset_materializations_for_node("ingestion")[0].metadata
    assert meta["input_rows"].value == ROWS

    if case.outcome == "pass":
        assert all(c.passed for c in checks.values()), {k: c.description for k, c in checks.items() if not c.passed}
        assert stored_rows(settings, "cleaned_features") == ROWS
    elif case.outcome == "quarantine":
        assert checks["raw_data_contract"].passed
        assert not checks["raw_data_quarantine"].passed
        assert checks["raw_data_quarantine"].severity.value == "WARN"
        assert case.message in check_text(checks["raw_data_quarantine"])
        q = pd.read_parquet(f"{settings.quarantine_dir}/quarantined_rows/{DAY.isoformat()}.parquet")
        assert (q["_quarantine_reasons"].str.len() > 0).all()  # every row says why
        assert q["_quarantine_reasons"].str.contains(case.message, regex=False).any()
        assert (q["_source_file"] == path).all()
        assert stored_rows(settings, "cleaned_features") == ROWS - case.quarantined  # the batch went on
    else:  # blocked by a blocking check
        failed = checks[case.failing_check]
        assert not failed.passed
        assert failed.severity.value == "ERROR"
        assert case.message in check_text(failed), check_text(failed)
        if case.failing_check == "raw_data_contract":
            assert quarantined == case.quarantined
            assert stored_rows(settings, "cleaned_features") is None  # downstream did not run


def test_a_blocked_day_is_refused_in_a_later_run_too(settings, instance) -> None:
    land(settings, Case("x", bad_fraction(0.30)))
    ingest_days(settings, instance)
    import dagster as dg

    from ml_assets.definitions import resources_for
    from ml_assets_tests.pipeline_helpers import QUIET, all_assets

    later = dg.materialize(
        all_assets(settings),
        selection=["cleaned_features"],
        partition_key=DAY.isoformat(),
        instance=instance,
        resources=resources_for(settings),
        raise_on_error=False,
        run_config=QUIET,
    )
    assert not later.success
    assert "failed its contract" in " ".join(failure_messages(later))
    assert stored_rows(settings, "cleaned_features") is None
