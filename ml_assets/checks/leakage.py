"""Leakage guards: the label, label proxies, id-like columns, and train/holdout overlap.

Plain functions over DataFrames; each returns an AssetCheckResult. All are blocking: a model
trained on a leak looks great and is worthless.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from ml_assets import dataset
from ml_assets import metadata as md

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NO_LABEL = "no_label_in_features"
NO_PROXY = "no_label_proxies"
NO_ID_LIKE = "no_id_like_features"
NO_OVERLAP = "no_train_holdout_overlap"

PROXY_AUC = 0.99
PROXY_CORR = 0.98
ID_UNIQUE_FRACTION = 0.99
ID_MONOTONIC = 0.99
MAX_OVERLAP_FRACTION = 0.001
SAMPLE_ROWS = 50_000  # statistics on a fixed sample: plenty for 0.99 thresholds, bounded cost


def feature_columns(table: pd.DataFrame) -> list[str]:
    """Everything in the feature table that is not a key or the label is a feature candidate."""
    keys = {dataset.ID, dataset.TIMESTAMP, dataset.LABEL}
    return [str(c) for c in table.columns if c not in keys]


def no_label_in_features(table: pd.DataFrame) -> dg.AssetCheckResult:
    from ml_assets.contracts import forbidden_feature_names

    forbidden = forbidden_feature_names()
    in_table = [c for c in feature_columns(table) if c.lower() in forbidden]
    in_config = [c for c in dataset.FEATURES if c.lower() in forbidden]
    offenders = sorted(set(in_table) | set(in_config))
    return dg.AssetCheckResult(
        check_name=NO_LABEL,
        passed=not offenders,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if not offenders
        else f"label (or an alias, id or timestamp) among the features: {offenders}; remove it upstream",
        metadata={
            "failing_columns": ", ".join(offenders) or "none",
            "forbidden_names": ", ".join(sorted(forbidden)),
            "rule": "the feature contract forbids the label and its aliases",
        },
    )


def _sample(table: pd.DataFrame) -> pd.DataFrame:
    return table.sample(SAMPLE_ROWS, random_state=0) if len(table) > SAMPLE_ROWS else table


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC via ranks (Mann-Whitney); symmetric: a perfect inverse predictor also scores 1."""
    import numpy as np
    import pandas as pd

    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    ranks = pd.Series(score).rank(method="average").to_numpy()
    auc = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(max(auc, 1 - auc)) if np.isfinite(auc) else 0.5


def proxy_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Per feature: single-feature ROC AUC and |correlation| with the label."""
    import numpy as np
    import pandas as pd

    df = _sample(table)
    y = df[dataset.LABEL].to_numpy()
    rows = []
    for col in feature_columns(df):
        values = df[col]
        if pd.api.types.is_numeric_dtype(values):
            x = values.to_numpy(dtype="float64", na_value=np.nan)
            x = np.where(np.isfinite(x), x, np.nanmedian(x) if np.isfinite(x).any() else 0.0)
            corr = float(abs(np.corrcoef(x, y)[0, 1])) if x.std() > 0 and y.std() > 0 else 0.0
        else:  # a category scores by its label rate: a 1:1 map to the label scores AUC 1
            keys = values.astype(object).where(values.notna(), "<missing>")
            x = keys.map(pd.Series(y, index=df.index).groupby(keys).mean()).to_numpy(dtype="float64")
            corr = float(abs(np.corrcoef(x, y)[0, 1])) if x.std() > 0 and y.std() > 0 else 0.0
        rows.append({"feature": col, "roc_auc": round(_auc(x, y), 4), "abs_corr": round(corr, 4)})
    return pd.DataFrame(rows).sort_values("roc_auc", ascending=False, ignore_index=True)


def no_label_proxies(table: pd.DataFrame, auc: float = PROXY_AUC, corr: float = PROXY_CORR) -> dg.AssetCheckResult:
    scores = proxy_scores(table)
    bad = scores[(scores["roc_auc"] >= auc) | (scores["abs_corr"] >= corr)]
    return dg.AssetCheckResult(
        check_name=NO_PROXY,
        passed=bad.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if bad.empty
        else f"{list(bad['feature'])} nearly determine the label on their own (a leak): remove them upstream",
        metadata={
            "failing_columns": ", ".join(bad["feature"]) or "none",
            "thresholds": f"single-feature ROC AUC >= {auc} or |corr| >= {corr}",
            "rows_scored": min(len(table), SAMPLE_ROWS),
            "top_features": md.markdown_sample(scores, 10),
        },
    )


def id_like_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Features that look like row identifiers: (nearly) unique per row, or monotonic with row order."""
    import numpy as np
    import pandas as pd

    df = table if len(table) <= SAMPLE_ROWS else table.iloc[:: max(1, len(table) // SAMPLE_ROWS)]
    n = len(df)
    order = np.arange(n, dtype="float64")
    rows = []
    for col in feature_columns(df):
        values = df[col]
        numeric = pd.api.types.is_numeric_dtype(values)
        nonnull = values.dropna()
        if len(nonnull) < 50:
            continue
        unique_fraction = nonnull.nunique() / len(nonnull)
        whole = numeric and bool(np.all(np.mod(nonnull.to_numpy(dtype="float64"), 1) == 0))
        monotonic = 0.0
        if numeric:
            ranks = values.rank().to_numpy(dtype="float64", na_value=np.nan)
            ok = np.isfinite(ranks)
            if ok.sum() > 2 and np.std(ranks[ok]) > 0:
                monotonic = float(abs(np.corrcoef(ranks[ok], order[ok])[0, 1]))
        # continuous measurements are naturally unique; only whole numbers or text count as ids
        unique_like = unique_fraction >= ID_UNIQUE_FRACTION and (whole or not numeric)
        if unique_like or monotonic >= ID_MONOTONIC:
            rows.append(
                {
                    "feature": col,
                    "unique_fraction": round(unique_fraction, 4),
                    "monotonic_with_row_order": round(monotonic, 4),
                }
            )
    return pd.DataFrame(rows, columns=["feature", "unique_fraction", "monotonic_with_row_order"])


def no_id_like_features(table: pd.DataFrame) -> dg.AssetCheckResult:
    bad = id_like_columns(table)
    return dg.AssetCheckResult(
        check_name=NO_ID_LIKE,
        passed=bad.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if bad.empty else f"{list(bad['feature'])} look like ids, not features",
        metadata={
            "failing_columns": ", ".join(bad["feature"]) or "none",
            "rule": f"whole-number or text values >= {ID_UNIQUE_FRACTION:.0%} unique, or |rank corr| with row "
            f"order >= {ID_MONOTONIC}",
            "offenders": md.markdown_sample(bad),
        },
    )


def row_fingerprints(df: pd.DataFrame) -> pd.Series:
    import pandas as pd

    cols = [*dataset.FEATURES, dataset.LABEL]
    return pd.util.hash_pandas_object(df.loc[:, cols], index=False)


def overlap(train: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, Any]:
    """Holdout rows that also occur in training, by id and by content."""
    ids = holdout[dataset.ID].isin(set(train[dataset.ID]))
    content = row_fingerprints(holdout).isin(set(row_fingerprints(train)))
    shared = ids.to_numpy() | content.to_numpy()
    return {
        "holdout_rows": len(holdout),
        "shared_ids": int(ids.sum()),
        "shared_rows_by_content": int(content.sum()),
        "shared_rows": int(shared.sum()),
        "sample": holdout.loc[shared],
    }


def no_train_holdout_overlap(
    train: pd.DataFrame, holdout: pd.DataFrame, max_fraction: float = MAX_OVERLAP_FRACTION
) -> dg.AssetCheckResult:
    found = overlap(train, holdout)
    fraction = found["shared_rows"] / max(found["holdout_rows"], 1)
    passed = fraction <= max_fraction
    return dg.AssetCheckResult(
        check_name=NO_OVERLAP,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if passed
        else f"{found['shared_rows']} holdout rows ({fraction:.2%}) also occur in training: the holdout "
        "metrics are inflated; was a day landed twice?",
        metadata={
            "holdout_rows": found["holdout_rows"],
            "shared_ids": found["shared_ids"],
            "shared_rows_by_content": found["shared_rows_by_content"],
            "overlap_fraction": round(fraction, 6),
            "max_fraction": max_fraction,
            "sample_shared_rows": md.markdown_sample(
                found["sample"], 5, [dataset.ID, dataset.TIMESTAMP, dataset.LABEL]
            ),
        },
    )
