from datetime import date

import numpy as np
import pandas as pd
import pytest

from ml_assets import dataset
from ml_assets_tests.conftest import END_DAY


def test_generator_is_deterministic_and_matches_the_declared_columns() -> None:
    a = dataset.generate_chunk(date(2026, 1, 5), 0, 5_000)
    b = dataset.generate_chunk(date(2026, 1, 5), 0, 5_000)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == list(dataset.COLUMN_NAMES)
    c = dataset.generate_chunk(date(2026, 1, 6), 0, 5_000)
    assert not a[dataset.LABEL].equals(c[dataset.LABEL])


def test_generated_data_is_realistic() -> None:
    df = dataset.generate_chunk(date(2026, 1, 5), 0, 50_000)
    assert df[dataset.ID].is_unique
    assert 0.10 < df[dataset.LABEL].mean() < 0.30  # churn is the minority class
    for name in ("satisfaction_score", "total_charges", "days_since_last_login", "payment_method"):
        assert 0 < df[name].isna().mean() < 0.3, name  # realistic missing values
    for col in dataset.COLUMNS:
        if not col.nullable:
            assert df[col.name].notna().all(), col.name
        if col.ge is not None:
            assert (df[col.name].dropna() >= col.ge).all(), col.name
        if col.le is not None:
            assert (df[col.name].dropna() <= col.le).all(), col.name
        if col.categories:
            assert set(df[col.name].dropna()) <= set(col.categories), col.name
    assert (df[dataset.TIMESTAMP].dt.date == date(2026, 1, 5)).all()


def test_generate_day_streams_bounded_chunks() -> None:
    sizes = [len(c) for c in dataset.generate_day(date(2026, 1, 5), dataset.CHUNK_ROWS * 2 + 10)]
    assert sizes == [dataset.CHUNK_ROWS, dataset.CHUNK_ROWS, 10]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_demo_data_writes_one_complete_file_per_day(tmp_path, fmt: str) -> None:
    paths = dataset.write_demo_data(tmp_path, days=3, rows_per_day=500, fmt=fmt, end_date=END_DAY, progress=False)
    assert [dataset.partition_key_for(p) for p in paths] == sorted(dataset.partition_key_for(p) for p in paths)
    assert paths[-1].name == f"churn_{END_DAY.isoformat()}.{fmt}"
    assert not list(tmp_path.glob("*.tmp"))
    df = pd.read_csv(paths[0]) if fmt == "csv" else pd.read_parquet(paths[0])
    assert len(df) == 500
    assert list(df.columns) == list(dataset.COLUMN_NAMES)


def test_write_demo_data_rejects_bad_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match="csv or parquet"):
        dataset.write_demo_data(tmp_path, 1, 10, "xlsx", progress=False)
    with pytest.raises(ValueError, match="at least 1"):
        dataset.write_demo_data(tmp_path, 0, 10, "csv", progress=False)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("churn_2026-03-04.csv", "2026-03-04"),
        ("export-2026-03-04-final.parquet", "2026-03-04"),
        ("churn_2026-03-04.csv.tmp", None),
        ("churn_2026-13-40.csv", None),
        ("notes.txt", None),
        ("churn.csv", None),
    ],
)
def test_partition_key_for(name: str, key: str | None, tmp_path) -> None:
    assert dataset.partition_key_for(tmp_path / name) == key


def test_feature_lists_exclude_label_id_and_timestamp() -> None:
    assert dataset.LABEL not in dataset.FEATURES
    assert dataset.ID not in dataset.FEATURES
    assert dataset.TIMESTAMP not in dataset.FEATURES
    assert np.all([c in dataset.COLUMN_NAMES for c in dataset.FEATURES])
