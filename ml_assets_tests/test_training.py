"""Training and the seed's exact scenario: transform() must not crash on odd batches."""

import numpy as np
import pandas as pd
import pytest

from ml_assets import dataset
from ml_assets.errors import TrainingFailed
from ml_assets.lib import features, training
from ml_assets_tests.conftest import END_DAY, mlflow_client
from ml_assets_tests.pipeline_helpers import check_results, ingest_days, train


@pytest.fixture(scope="module")
def fitted() -> training.TrainResult:
    df = features.clean_features(dataset.generate_chunk(END_DAY, 0, 6_000))
    return training.train_model(df, training.TrainParams(max_iter=40))


def batch(n: int = 200) -> pd.DataFrame:
    return training.features_of(features.clean_features(dataset.generate_chunk(END_DAY, 3, n)))


def test_model_learns_a_real_signal(fitted) -> None:
    assert 0.7 < fitted.metrics["roc_auc"] < 0.95  # learnable, not trivially separable
    assert fitted.metrics["calibration_error"] < 0.1


def test_unseen_categories_are_handled_by_design(fitted) -> None:
    x = batch()
    x["region"] = "atlantis"
    x["device_os"] = None
    proba = fitted.pipeline.predict_proba(x)[:, 1]
    assert np.isfinite(proba).all()


def test_an_all_nan_column_is_imputed_not_crashed_on(fitted) -> None:
    x = batch()
    x["satisfaction_score"] = np.nan
    x["monthly_charges"] = np.nan
    assert np.isfinite(fitted.pipeline.predict_proba(x)).all()


def test_a_new_dtype_is_handled(fitted) -> None:
    x = batch()
    x["age"] = x["age"].astype("int32")
    x["tenure_months"] = x["tenure_months"].astype("float32")
    assert np.isfinite(fitted.pipeline.predict_proba(x)).all()


def test_nan_or_constant_predictions_are_a_training_failure() -> None:
    with pytest.raises(TrainingFailed, match="NaN/Inf"):
        training.check_predictions(np.array([0.1, np.nan]), "holdout")
    with pytest.raises(TrainingFailed, match="constant score"):
        training.check_predictions(np.full(10, 0.3), "holdout")


def test_too_little_data_is_a_clear_failure() -> None:
    df = features.clean_features(dataset.generate_chunk(END_DAY, 0, 30))
    with pytest.raises(TrainingFailed, match="too little data"):
        training.train_model(df, training.TrainParams())


def test_single_class_is_a_clear_failure() -> None:
    df = features.clean_features(dataset.generate_chunk(END_DAY, 0, 2_000)).assign(**{dataset.LABEL: 0})
    with pytest.raises(TrainingFailed, match="single class"):
        training.train_model(df, training.TrainParams())


def test_holdout_split_is_stable_and_disjoint() -> None:
    ids = pd.Series(np.arange(100_000, dtype="int64"))
    mask = training.holdout_mask(ids, 0.2)
    assert 0.18 < mask.mean() < 0.22
    assert (training.holdout_mask(ids[:500], 0.2) == mask[:500]).all()


def test_train_holdout_overlap_blocks_training(settings, instance) -> None:
    """A day landed twice (new ids, same rows) puts the same rows on both sides of the split."""
    day = dataset.generate_chunk(END_DAY, 0, 3_000)
    day.to_parquet(settings.landing_dir / dataset.landed_file_name(END_DAY, "parquet"), index=False)
    copy = day.copy()
    previous = END_DAY - pd.Timedelta(days=1)
    copy[dataset.ID] = copy[dataset.ID] + 50_000_000
    copy[dataset.TIMESTAMP] = copy[dataset.TIMESTAMP] - pd.Timedelta(days=1)
    copy.to_parquet(settings.landing_dir / dataset.landed_file_name(previous, "parquet"), index=False)
    assert all(r.success for r in ingest_days(settings, instance).values())

    result = train(settings, instance)
    assert not result.success  # the blocking check stops the run
    overlap = check_results(result)["no_train_holdout_overlap"]
    assert not overlap.passed
    assert overlap.metadata["shared_rows_by_content"].value > 100
    assert "landed twice" in overlap.description
    assert not result.asset_materializations_for_node("registered_model")
    assert mlflow_client(settings).search_registered_models() == []  # nothing registered
