"""cleaned_features: the typed feature table, one partition per landed day."""

import dagster as dg

from ml_assets import dataset
from ml_assets import metadata as md
from ml_assets.lib import features
from ml_assets.partitions import landed_days
from ml_assets.types import Frame


def raw_contract_passed(context: dg.AssetExecutionContext, partition_key: str) -> bool | None:
    """What the newest raw_data materialization of this day said about its contract."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_data"), asset_partitions=[partition_key]), limit=1
    ).records
    if not records:
        return None
    value = records[0].asset_materialization.metadata.get("contract_passed")
    return None if value is None else bool(value.value)


@dg.asset(
    partitions_def=landed_days,
    group_name="features",
    kinds={"pandas", "parquet"},
    automation_condition=dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed(),
)
def cleaned_features(context: dg.AssetExecutionContext, raw_data: Frame) -> dg.MaterializeResult:
    """Typed, cleaned feature table. Imputation and encoding are fit later, inside the model's
    Pipeline, so serving applies exactly what training learned."""
    day = context.partition_key
    if raw_contract_passed(context, day) is False:
        # blocking checks stop downstream steps in the same run; this stops them in later runs too
        raise dg.Failure(
            f"raw_data for {day} failed its contract (see the raw_data_contract check): fix or replace the "
            "landed file, then re-materialize raw_data",
            allow_retries=False,
        )
    table = features.clean_features(raw_data)
    return dg.MaterializeResult(
        value=table,
        metadata={
            "dagster/row_count": len(table),
            "dagster/column_schema": md.frame_schema(table),
            "label_rate": float(table[dataset.LABEL].mean()) if len(table) else 0.0,
        },
    )
