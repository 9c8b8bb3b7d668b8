"""raw_data and quarantined_rows: one partition per landed day."""

from datetime import UTC, datetime

import dagster as dg

from ml_assets import metadata as md
from ml_assets.checks import data_contracts
from ml_assets.checks.data_contracts import RAW_CONTRACT, RAW_QUARANTINE
from ml_assets.errors import ContractViolation, LandingZoneError
from ml_assets.lib import ingest
from ml_assets.partitions import day_check, landed_days
from ml_assets.resources import LandingZone
from ml_assets.settings import get_settings


class IngestionConfig(dg.Config):
    quarantine_tolerance: float = get_settings().quarantine_tolerance
    """Largest fraction of bad rows a batch may quarantine and still go on (0.01 = 1%)."""


@dg.multi_asset(
    outs={
        "raw_data": dg.AssetOut(
            description="The day's landed rows that pass the raw-data contract, typed. "
            "Bad rows go to quarantined_rows, never silently away.",
            kinds={"pandas", "parquet"},
            metadata={"dagster/column_schema": md.dataset_column_schema()},
        ),
        "quarantined_rows": dg.AssetOut(
            description="Rows of the day that broke a row-level rule, as landed, with the file, the row "
            "number and every reason.",
            kinds={"pandas", "parquet"},
            io_manager_key="quarantine_io_manager",
        ),
    },
    partitions_def=landed_days,
    group_name="ingestion",
    check_specs=[
        day_check(
            RAW_CONTRACT,
            asset="raw_data",
            blocking=True,
            description="Blocks the batch when more rows break the contract than the quarantine tolerance allows.",
        ),
        day_check(RAW_QUARANTINE, asset="raw_data", description="Warns when any row of the batch was quarantined."),
    ],
)
def ingestion(context: dg.AssetExecutionContext, config: IngestionConfig, landing_zone: LandingZone):
    """Read the partition's landed files (read-only), validate every row, split clean from bad."""
    day = context.partition_key
    files = landing_zone.files_for(day)
    if not files:
        raise dg.Failure(
            f"no landed file for day {day} in {landing_zone.path}: the file was removed or renamed",
            allow_retries=False,
        )
    try:
        result = ingest.ingest_partition(files, day, now=datetime.now(UTC))
    except (ContractViolation, LandingZoneError) as exc:
        # a schema-level fault fails the whole batch, fast, naming file and column
        raise dg.Failure(str(exc), allow_retries=False) from exc
    context.log.info(
        f"{day}: {result.input_rows} rows in {len(files)} file(s): "
        f"{len(result.clean)} clean, {len(result.quarantined)} quarantined"
    )
    tolerance = config.quarantine_tolerance
    contract = data_contracts.raw_contract(result, tolerance)
    yield dg.MaterializeResult(
        asset_key="raw_data",
        value=result.clean,
        metadata={
            "input_rows": result.input_rows,
            "clean_rows": len(result.clean),
            "quarantined_rows": len(result.quarantined),
            "bad_fraction": round(result.bad_fraction, 6),
            "dagster/row_count": len(result.clean),
            "files": ", ".join(p.name for p in files),
            "contract_passed": contract.passed,
            "preview": md.markdown_sample(result.clean, 5),
        },
    )
    yield dg.MaterializeResult(
        asset_key="quarantined_rows",
        value=result.quarantined,
        metadata={"dagster/row_count": len(result.quarantined), "reasons": md.counts_table(result.reason_counts)},
    )
    yield contract
    yield data_contracts.raw_quarantine(result, tolerance)
