"""cleaned_features: the typed feature table, one partition per landed day."""

import dagster as dg

from ml_assets import dataset
from ml_assets import metadata as md
from ml_assets.checks import data_contracts, drift, leakage
from ml_assets.lib import features
from ml_assets.partitions import day_check, landed_days
from ml_assets.types import Frame

BLOCKING_CHECKS = (
    data_contracts.FEATURE_CONTRACT,
    leakage.NO_LABEL,
    leakage.NO_PROXY,
    leakage.NO_ID_LIKE,
)


def latest_metadata(instance: dg.DagsterInstance, asset: str, partitions: list[str]) -> dict[str, dict]:
    """The newest materialization metadata of each partition of ``asset`` (missing ones absent)."""
    out: dict[str, dict] = {}
    if not partitions:
        return out
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=partitions), limit=10_000
    ).records
    for record in records:  # newest first
        mat = record.asset_materialization
        if mat.partition not in out:
            out[mat.partition] = {k: v.value for k, v in mat.metadata.items()}
    return out


def reference_profile(instance: dg.DagsterInstance) -> dict | None:
    """The feature profile of the newest trained model, if any."""
    event = instance.get_latest_materialization_event(dg.AssetKey("trained_model"))
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get("reference_profile")
    return value.value if value is not None else None


@dg.asset(
    partitions_def=landed_days,
    group_name="features",
    kinds={"pandas", "parquet"},
    automation_condition=dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed(),
    check_specs=[
        day_check(
            data_contracts.FEATURE_CONTRACT,
            asset="cleaned_features",
            blocking=True,
            description="Every row satisfies the FeatureTable contract (dtypes, ranges, categories, unique ids).",
        ),
        day_check(
            leakage.NO_LABEL,
            asset="cleaned_features",
            blocking=True,
            description="The label and its aliases are not among the features.",
        ),
        day_check(
            leakage.NO_PROXY,
            asset="cleaned_features",
            blocking=True,
            description="No feature nearly determines the label on its own (ROC AUC or |corr| threshold).",
        ),
        day_check(
            leakage.NO_ID_LIKE,
            asset="cleaned_features",
            blocking=True,
            description="No feature looks like a row id (unique per row, or monotonic with row order).",
        ),
        day_check(
            drift.FEATURE_DRIFT,
            asset="cleaned_features",
            description="PSI of the batch against the training reference of the newest model.",
        ),
    ],
)
def cleaned_features(context: dg.AssetExecutionContext, raw_data: Frame):
    """Typed, cleaned feature table of the day. Imputation and encoding are fit later, inside the
    model's Pipeline, so serving applies exactly what training learned."""
    day = context.partition_key
    raw_meta = latest_metadata(context.instance, "raw_data", [day]).get(day, {})
    if raw_meta.get("contract_passed") is False:
        # blocking checks stop downstream steps in the same run; this stops them in later runs too
        raise dg.Failure(
            f"raw_data for {day} failed its contract (see the raw_data_contract check): fix or replace the "
            "landed file, then re-materialize raw_data",
            allow_retries=False,
        )
    table = features.clean_features(raw_data)
    results = [
        data_contracts.feature_contract(table),
        leakage.no_label_in_features(table),
        leakage.no_label_proxies(table),
        leakage.no_id_like_features(table),
    ]
    drift_result = drift.feature_drift(table, reference_profile(context.instance))
    blocked = [r.check_name for r in results if not r.passed]
    if blocked:
        context.log.error(f"{day}: blocking checks failed: {blocked}; nothing downstream will use this day")
    yield dg.MaterializeResult(
        value=table,
        metadata={
            "dagster/row_count": len(table),
            "dagster/column_schema": md.frame_schema(table),
            "label_rate": float(table[dataset.LABEL].mean()) if len(table) else 0.0,
            "blocking_checks_passed": not blocked,
            "failed_checks": ", ".join(blocked) or "none",
            # read by drift_retraining_sensor
            "max_psi": drift_result.metadata["max_psi"].value,
            "high_drift": drift_result.metadata["high_drift"].value,
        },
    )
    yield from results
    yield drift_result
