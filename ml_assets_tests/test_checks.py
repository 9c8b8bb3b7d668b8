"""Each check function on a good fixture and on a bad one."""

import numpy as np
import pytest

from ml_assets import dataset
from ml_assets.checks import data_contracts, drift, leakage
from ml_assets.lib import features, ingest, training
from ml_assets_tests.conftest import END_DAY


@pytest.fixture(scope="module")
def table():
    return features.clean_features(dataset.generate_chunk(END_DAY, 0, 5_000))


def test_feature_contract_good_and_bad(table) -> None:
    assert data_contracts.feature_contract(table).passed
    bad = table.copy()
    bad.loc[:9, "age"] = 250
    bad = bad.drop(columns=["region"])
    result = data_contracts.feature_contract(bad)
    assert not result.passed
    assert "missing columns ['region']" in result.description
    bad2 = table.copy()
    bad2.loc[:9, "age"] = 250
    result2 = data_contracts.feature_contract(bad2)
    assert result2.metadata["failing_rows"].value == 10
    assert "age: above 100" in result2.metadata["failing_rules"].value


def test_label_in_features(table) -> None:
    assert leakage.no_label_in_features(table).passed
    result = leakage.no_label_in_features(table.assign(target=table[dataset.LABEL]))
    assert not result.passed
    assert result.metadata["failing_columns"].value == "target"


def test_label_proxies(table) -> None:
    assert leakage.no_label_proxies(table).passed
    leaky = table.assign(support_calls_90d=table[dataset.LABEL] * 3.0)
    result = leakage.no_label_proxies(leaky)
    assert not result.passed
    assert "support_calls_90d" in result.metadata["failing_columns"].value
    # a categorical that maps 1:1 to the label is a proxy too
    cat = table.assign(plan_tier=np.where(table[dataset.LABEL] == 1, "premium", "basic"))
    assert "plan_tier" in leakage.no_label_proxies(cat).metadata["failing_columns"].value
    # the threshold is configurable
    assert leakage.no_label_proxies(table, auc=0.6, corr=0.2).passed is False


def test_id_like_features(table) -> None:
    assert leakage.no_id_like_features(table).passed  # continuous measurements are not ids
    result = leakage.no_id_like_features(table.assign(referrals=np.arange(len(table)) // 50))
    assert not result.passed  # monotonic with row order
    assert (
        leakage.no_id_like_features(table.assign(num_devices=np.random.default_rng(1).permutation(len(table)))).passed
        is False
    )


def test_overlap(table) -> None:
    train, holdout = training.split(table, 0.2)
    assert leakage.no_train_holdout_overlap(train, holdout).passed
    leaked = leakage.no_train_holdout_overlap(
        train, holdout.assign(**{dataset.ID: train[dataset.ID].iloc[: len(holdout)].to_numpy()})
    )
    assert not leaked.passed
    assert leaked.metadata["shared_ids"].value == len(holdout)


def test_drift(table) -> None:
    profile = drift.reference_profile(table)
    same = features.clean_features(dataset.generate_chunk(END_DAY, 1, 5_000))
    assert drift.feature_drift(same, profile).passed
    shifted = same.assign(monthly_charges=same["monthly_charges"] * 1.8, region="islands")
    result = drift.feature_drift(shifted, profile)
    assert not result.passed
    assert result.severity.value == "WARN"
    assert result.metadata["high_drift"].value is True
    assert {"monthly_charges", "region"} <= set(result.metadata["drifted_features"].value.split(", "))
    assert drift.feature_drift(same, None).passed  # no reference yet


def test_quarantine_reasons_list_every_broken_rule() -> None:
    df = dataset.generate_chunk(END_DAY, 0, 1_000)
    df.loc[5, "age"] = 3
    df.loc[5, "region"] = "mars"
    result = ingest.split_rows(df, "f.csv", END_DAY.isoformat())
    assert result.quarantined.loc[0, "_quarantine_reasons"] == "age: below 18; region: unknown category"
    assert result.quarantined.loc[0, "_source_row"] == 5
    assert len(result.clean) == 999
