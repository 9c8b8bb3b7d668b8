"""Checks generated from the pandera contracts (``ml_assets.contracts``)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import dagster as dg

from ml_assets import metadata as md

if TYPE_CHECKING:
    import pandas as pd

    from ml_assets.lib.ingest import SplitResult

RAW_CONTRACT = "raw_data_contract"
RAW_QUARANTINE = "raw_data_quarantine"
FEATURE_CONTRACT = "cleaned_features_contract"


def _columns_of(counts: dict[str, int]) -> str:
    return ", ".join(sorted({rule.split(":")[0] for rule in counts})) or "none"


def _split_metadata(result: SplitResult, tolerance: float) -> dict[str, Any]:
    return {
        "input_rows": result.input_rows,
        "clean_rows": len(result.clean),
        "quarantined_rows": len(result.quarantined),
        "bad_fraction": round(result.bad_fraction, 6),
        "tolerance": tolerance,
        "failing_rules": md.counts_table(result.reason_counts),
        "failing_columns": _columns_of(result.reason_counts),
        "sample_bad_rows": md.markdown_sample(result.quarantined),
    }


def raw_contract(result: SplitResult, tolerance: float) -> dg.AssetCheckResult:
    """Blocking: the share of rows that break the raw contract is within the tolerance."""
    passed = result.bad_fraction <= tolerance
    return dg.AssetCheckResult(
        asset_key="raw_data",
        check_name=RAW_CONTRACT,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if passed
        else f"{result.bad_fraction:.1%} of rows break the contract (tolerance {tolerance:.1%}); batch blocked. "
        f"Rules: {', '.join(sorted(result.reason_counts))}",
        metadata=_split_metadata(result, tolerance),
    )


def raw_quarantine(result: SplitResult, tolerance: float) -> dg.AssetCheckResult:
    """Warning: some rows of the batch were quarantined (the batch may still have gone on)."""
    quarantined = len(result.quarantined)
    return dg.AssetCheckResult(
        asset_key="raw_data",
        check_name=RAW_QUARANTINE,
        passed=quarantined == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if quarantined == 0 else f"{quarantined} of {result.input_rows} rows quarantined",
        metadata=_split_metadata(result, tolerance),
    )


@functools.cache
def _feature_rules() -> list[Any]:
    from ml_assets import contracts
    from ml_assets.lib import quarantine

    return quarantine.compile_rules(contracts.FeatureTable.to_schema())


def feature_contract(table: pd.DataFrame) -> dg.AssetCheckResult:
    """Blocking: every row of the feature table satisfies the FeatureTable contract."""
    from ml_assets import contracts
    from ml_assets.lib import quarantine

    schema = contracts.FeatureTable.to_schema()
    expected = list(schema.columns)
    missing = [c for c in expected if c not in table.columns]
    extra = [c for c in table.columns if c not in expected]
    wrong_dtype = {
        c: str(table[c].dtype)
        for c, col in schema.columns.items()
        if c in table.columns
        and str(col.dtype).startswith(("int", "float"))
        and not str(table[c].dtype).startswith(str(col.dtype)[:3])
    }
    counts: dict[str, int] = {}
    sample = table.head(0)
    if not missing:
        verdict = quarantine.evaluate(table, _feature_rules())
        counts = verdict.counts
        sample = table.loc[verdict.bad]
    passed = not (missing or extra or wrong_dtype or counts)
    problems = []
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"unexpected columns {extra}")
    if wrong_dtype:
        problems.append(f"wrong dtypes {wrong_dtype}")
    if counts:
        problems.append(f"{len(sample)} rows break {sorted(counts)}")
    return dg.AssetCheckResult(
        check_name=FEATURE_CONTRACT,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if passed else "; ".join(problems),
        metadata={
            "rows": len(table),
            "failing_rules": md.counts_table(counts),
            "failing_columns": ", ".join(
                sorted(set(missing + extra + list(wrong_dtype)) | {r.split(":")[0] for r in counts})
            )
            or "none",
            "failing_rows": len(sample),
            "sample_bad_rows": md.markdown_sample(sample),
        },
    )
