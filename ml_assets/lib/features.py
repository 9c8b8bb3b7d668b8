"""From clean raw rows to the typed feature table. Plain pandas, no Dagster.

Imputation and encoding are *not* done here: they are fit inside the model's sklearn Pipeline
(see ``training.build_pipeline``), so that serving applies exactly what training learned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml_assets import dataset

if TYPE_CHECKING:
    import pandas as pd


def clean_features(raw: pd.DataFrame) -> pd.DataFrame:
    """Typed, cleaned table: id, timestamp, numeric features as float64, categoricals as text
    (missing as None), label as int64. Rows are sorted by event time."""
    import pandas as pd

    out = pd.DataFrame(
        {
            dataset.ID: raw[dataset.ID].astype("int64"),
            dataset.TIMESTAMP: pd.to_datetime(raw[dataset.TIMESTAMP], utc=True),
        }
    )
    for name in dataset.NUMERIC_FEATURES:
        out[name] = raw[name].astype("float64")
    for name in dataset.CATEGORICAL_FEATURES:
        col = raw[name].astype(object)
        out[name] = col.where(col.notna(), None)
    out[dataset.LABEL] = raw[dataset.LABEL].astype("int64")
    for name in raw.columns:  # undeclared columns travel on, so the leakage checks can see them
        if name not in out.columns:
            out[name] = raw[name]
    return out.sort_values([dataset.TIMESTAMP, dataset.ID], kind="stable").reset_index(drop=True)
