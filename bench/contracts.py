"""Contract validation with quarantine at 1,000,000 rows x 29 columns, 1% bad rows (issue 3, goal <= 2x
the hand-written version).

Three contenders on the same typed frame, side by side:
- ml-assets: ``ingest.split_rows`` (the raw pandera contract compiled to masks; clean rows, and
  quarantined rows with every reason, file and row number);
- hand-written: the same rules as literal vectorized pandas, producing the same two frames;
- pandera lazy: ``RawData.validate(df, lazy=True)`` on the same schema (no split, no per-row reasons).
"""

from __future__ import annotations

import contextlib
import sys
from datetime import date

import numpy as np
import pandas as pd
from common import report, side_by_side

from ml_assets import contracts, dataset
from ml_assets.lib import ingest

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
DAY = date(2026, 11, 1)


def make_frame() -> pd.DataFrame:
    df = pd.concat(list(dataset.generate_day(DAY, ROWS)), ignore_index=True)
    rng = np.random.default_rng(1)
    bad = rng.choice(ROWS, ROWS // 100, replace=False)
    quarter = len(bad) // 4
    df.loc[bad[:quarter], "age"] = 7
    df.loc[bad[quarter : 2 * quarter], "region"] = "atlantis"
    df.loc[bad[2 * quarter : 3 * quarter], "monthly_charges"] = np.inf
    df.loc[bad[3 * quarter :], "tenure_months"] = np.nan
    return df


def hand_written(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a careful engineer writes by hand for these rules, with reasons."""
    day = pd.Timestamp(DAY.isoformat(), tz="UTC")
    now = pd.Timestamp.now(tz="UTC")
    masks: dict[str, np.ndarray] = {}
    for col in dataset.COLUMNS:
        s = df[col.name]
        if not col.nullable:
            masks[f"{col.name}: missing"] = s.isna().to_numpy()
        if col.kind in ("numeric", "integer", "label", "id"):
            x = s.to_numpy(dtype="float64", na_value=np.nan)
            masks[f"{col.name}: infinite"] = np.isinf(x)
            fin = np.isfinite(x)
            if col.ge is not None:
                masks[f"{col.name}: below"] = fin & (x < col.ge)
            if col.le is not None:
                masks[f"{col.name}: above"] = fin & (x > col.le)
            if col.kind != "numeric":
                masks[f"{col.name}: not whole"] = fin & (np.floor(x) != x)
        if col.categories:
            masks[f"{col.name}: unknown category"] = (~s.isin(col.categories) & s.notna()).to_numpy()
    ts = df[dataset.TIMESTAMP]
    masks["ts: future"] = (ts > now).to_numpy()
    masks["ts: outside day"] = ((ts < day) | (ts >= day + pd.Timedelta(days=1))).to_numpy()
    masks["id: duplicate"] = df[dataset.ID].duplicated().to_numpy()
    bad = np.zeros(len(df), dtype=bool)
    for m in masks.values():
        bad |= m
    idx = np.flatnonzero(bad)
    reasons = np.full(len(idx), "", dtype=object)
    for name, m in masks.items():
        sub = m[idx]
        if sub.any():
            reasons[sub] = reasons[sub] + name + "; "
    quarantined = df.iloc[idx].astype(str).assign(_reasons=reasons)
    return df.loc[~bad].reset_index(drop=True), quarantined


def pandera_lazy(df: pd.DataFrame) -> None:
    import pandera.errors

    with contextlib.suppress(pandera.errors.SchemaErrors):
        contracts.RawData.validate(df, lazy=True)


def main() -> str:
    print(f"building {ROWS:,} rows ...", file=sys.stderr)
    df = make_frame()
    ours = ingest.split_rows(df, "bench.parquet", DAY.isoformat())
    clean, quarantined = hand_written(df)
    if (len(ours.clean), len(ours.quarantined)) != (len(clean), len(quarantined)):
        raise SystemExit("the contenders disagree on which rows are bad: the comparison would be meaningless")
    print(f"{len(quarantined):,} bad rows of {ROWS:,}; both contenders agree", file=sys.stderr)
    times = side_by_side(
        {
            "hand-written pandas": lambda: hand_written(df),
            "ml-assets split_rows": lambda: ingest.split_rows(df, "bench.parquet", DAY.isoformat()),
            "pandera validate(lazy=True)": lambda: pandera_lazy(df),
        },
        REPEATS,
    )
    return report(
        f"Contract validation with quarantine, {ROWS:,} rows x {len(df.columns)} columns, 1% bad",
        times,
        "hand-written pandas",
    )


if __name__ == "__main__":
    print(main())
