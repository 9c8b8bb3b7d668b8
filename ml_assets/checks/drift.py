"""Feature drift: PSI of each new batch against the training reference (a WARN check).

The reference profile is computed when a model trains and travels with it (trained_model's
value and metadata), so a batch is always compared with what the current model learned from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from ml_assets import dataset

if TYPE_CHECKING:
    import pandas as pd

FEATURE_DRIFT = "feature_drift"
PSI_WARN = 0.2  # the usual rule of thumb: < 0.1 stable, 0.1-0.2 moderate, > 0.2 significant
BINS = 10
PROFILE_ROWS = 200_000
_EPS = 1e-4


def reference_profile(df: pd.DataFrame) -> dict[str, Any]:
    """Decile edges and shares for numeric features, category shares for categorical ones
    (computed on a fixed sample of at most PROFILE_ROWS rows: deciles need no more)."""
    import numpy as np

    if len(df) > PROFILE_ROWS:
        df = df.sample(PROFILE_ROWS, random_state=0)
    profile: dict[str, Any] = {}
    for col in dataset.NUMERIC_FEATURES:
        x = df[col].to_numpy(dtype="float64", na_value=np.nan)
        x = x[np.isfinite(x)]
        if len(x) == 0:
            continue
        edges = np.unique(np.quantile(x, np.linspace(0, 1, BINS + 1))[1:-1]).tolist()
        profile[col] = {"kind": "numeric", "edges": edges, "shares": _numeric_shares(df[col], edges)}
    for col in dataset.CATEGORICAL_FEATURES:
        shares = df[col].astype(object).where(df[col].notna(), "<missing>").value_counts(normalize=True)
        profile[col] = {"kind": "category", "shares": {str(k): float(v) for k, v in shares.items()}}
    return profile


def _numeric_shares(values: pd.Series, edges: list[float]) -> list[float]:
    import numpy as np

    x = values.to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(x)
    counts = np.bincount(np.searchsorted(edges, x[finite], side="right"), minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, (~finite).sum())  # a last bin for missing values
    return (counts / max(len(x), 1)).tolist()


def _psi(expected: list[float], actual: list[float]) -> float:
    import numpy as np

    e = np.clip(np.asarray(expected, dtype=float), _EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_table(profile: dict[str, Any], batch: pd.DataFrame) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    rows = []
    for col, ref in profile.items():
        if col not in batch.columns:
            continue
        if ref["kind"] == "numeric":
            expected = list(ref["shares"])
            if len(expected) == len(ref["edges"]) + 1:  # profiles without the missing bin
                expected.append(0.0)
            actual = _numeric_shares(batch[col], ref["edges"])
        else:
            shares = batch[col].astype(object).where(batch[col].notna(), "<missing>").value_counts(normalize=True)
            keys = sorted(set(ref["shares"]) | {str(k) for k in shares.index})
            expected = [ref["shares"].get(k, 0.0) for k in keys]
            actual = [float(shares.get(k, 0.0)) for k in keys]
        rows.append({"feature": col, "psi": round(_psi(expected, actual), 4)})
    out = pd.DataFrame(rows, columns=["feature", "psi"])
    return out.sort_values("psi", ascending=False, ignore_index=True) if len(out) else out.assign(psi=np.nan)


def _bar(value: float, scale: float) -> str:
    return "█" * max(0, min(20, round(20 * value / scale)))


def feature_drift(
    batch: pd.DataFrame, profile: dict[str, Any] | None, threshold: float = PSI_WARN
) -> dg.AssetCheckResult:
    if not profile:
        return dg.AssetCheckResult(
            check_name=FEATURE_DRIFT,
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            description="no trained model yet: nothing to compare with",
            metadata={"max_psi": 0.0, "drifted_features": "none", "high_drift": False},
        )
    table = psi_table(profile, batch)
    drifted = table[table["psi"] > threshold]
    max_psi = float(table["psi"].max()) if len(table) else 0.0
    scale = max(max_psi, threshold * 2)
    lines = ["| feature | PSI | |", "|---|---|---|"]
    lines += [f"| {r.feature} | {r.psi:.4f} | {_bar(r.psi, scale)} |" for r in table.itertuples()]
    return dg.AssetCheckResult(
        check_name=FEATURE_DRIFT,
        passed=drifted.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=None
        if drifted.empty
        else f"high drift (PSI > {threshold}) in {list(drifted['feature'])}: consider retraining",
        metadata={
            "max_psi": round(max_psi, 4),
            "threshold": threshold,
            "drifted_features": ", ".join(drifted["feature"]) or "none",
            "high_drift": not drifted.empty,  # the drift retraining sensor reads this
            "psi_per_feature": dg.MetadataValue.md("\n".join(lines)),
        },
    )
