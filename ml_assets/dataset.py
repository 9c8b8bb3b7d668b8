"""The dataset: columns, label, id, generator and landed-file naming.

This is the one module to edit to bring your own data. Describe each column in ``COLUMNS``
(the contracts, the feature pipeline and the UI's column schema are all derived from it),
name the ``ID``, ``TIMESTAMP`` and ``LABEL`` columns, and, if you want demo data, adapt
``generate_chunk``. Everything here is plain Python: no Dagster.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Column:
    """One column of a landed batch.

    kind: "id" | "timestamp" | "numeric" | "integer" | "category" | "label"
    """

    name: str
    kind: str
    description: str
    nullable: bool = False
    ge: float | None = None
    le: float | None = None
    categories: tuple[str, ...] = field(default_factory=tuple)


ID = "customer_id"
TIMESTAMP = "event_ts"
LABEL = "churned"
# Names the label may also travel under upstream; the feature contract forbids all of them.
LABEL_ALIASES: tuple[str, ...] = ("churn", "is_churned", "churn_flag", "target", "label")

COLUMNS: tuple[Column, ...] = (
    Column(ID, "id", "Customer identifier, unique within a batch."),
    Column(TIMESTAMP, "timestamp", "When the snapshot was taken (UTC)."),
    Column("age", "integer", "Customer age in years.", ge=18, le=100),
    Column("tenure_months", "integer", "Months since the customer signed up.", ge=0, le=120),
    Column("monthly_charges", "numeric", "Current monthly bill.", ge=0, le=500),
    Column("total_charges", "numeric", "Lifetime billed amount.", nullable=True, ge=0, le=100_000),
    Column("support_calls_90d", "integer", "Support calls in the last 90 days.", ge=0, le=100),
    Column("logins_30d", "integer", "App logins in the last 30 days.", ge=0, le=1_000),
    Column("avg_session_minutes", "numeric", "Mean session length.", nullable=True, ge=0, le=600),
    Column("data_usage_gb", "numeric", "Data used last month.", nullable=True, ge=0, le=5_000),
    Column("days_since_last_login", "numeric", "Days since the last login.", nullable=True, ge=0, le=3_650),
    Column("payment_failures_12m", "integer", "Failed payments in the last year.", ge=0, le=50),
    Column("late_payments_12m", "integer", "Late payments in the last year.", ge=0, le=50),
    Column("discount_pct", "numeric", "Discount on the plan, percent.", ge=0, le=100),
    Column("satisfaction_score", "numeric", "Last survey score, 1-5 (often unanswered).", nullable=True, ge=1, le=5),
    Column("num_devices", "integer", "Devices registered.", ge=0, le=50),
    Column("contract_months_left", "integer", "Months left on the contract.", ge=0, le=36),
    Column("referrals", "integer", "Customers referred.", ge=0, le=100),
    Column("streaming_hours", "numeric", "Streaming hours last month.", nullable=True, ge=0, le=744),
    Column("contract_type", "category", "Contract length.", categories=("month-to-month", "one-year", "two-year")),
    Column(
        "payment_method",
        "category",
        "How the customer pays.",
        nullable=True,
        categories=("card", "bank-transfer", "electronic-check", "mailed-check"),
    ),
    Column("internet_service", "category", "Internet product.", categories=("dsl", "fiber", "none")),
    Column("region", "category", "Sales region.", categories=("north", "south", "east", "west", "central", "islands")),
    Column("plan_tier", "category", "Plan tier.", categories=("basic", "standard", "premium")),
    Column(
        "device_os", "category", "Main device platform.", nullable=True, categories=("android", "ios", "web", "other")
    ),
    Column("paperless_billing", "category", "Paperless billing.", categories=("yes", "no")),
    Column("has_partner", "category", "Household has a partner on the account.", categories=("yes", "no")),
    Column(
        "acquisition_channel",
        "category",
        "How the customer was acquired.",
        categories=("organic", "paid-search", "referral", "retail", "partner"),
    ),
    Column(LABEL, "label", "1 if the customer churned within 30 days of the snapshot.", ge=0, le=1),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
NUMERIC_FEATURES: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind in ("numeric", "integer"))
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind == "category")
FEATURES: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES

# Landed files: <anything>YYYY-MM-DD<anything>.csv|.parquet. The date is the partition key.
# Writers should write "<name>.tmp" and rename when complete: the landing sensor ignores *.tmp.
FILE_PATTERN = re.compile(r"(\d{4}-\d{2}-\d{2})")
FILE_SUFFIXES = (".csv", ".parquet")
FILE_PREFIX = "churn_"


def partition_key_for(path: Path) -> str | None:
    """The day a landed file belongs to, or None if its name carries no valid date."""
    if path.suffix not in FILE_SUFFIXES:
        return None
    match = FILE_PATTERN.search(path.name)
    if not match:
        return None
    try:
        date.fromisoformat(match.group(1))
    except ValueError:
        return None
    return match.group(1)


# ---------------------------------------------------------------------------------------------
# Demo data generator
# ---------------------------------------------------------------------------------------------

CHUNK_ROWS = 200_000  # fixed so that output does not depend on memory settings


def _seed(seed: int, day: date, chunk: int) -> int:
    digest = hashlib.sha256(f"{seed}:{day.isoformat()}:{chunk}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def generate_chunk(day: date, chunk: int, rows: int, seed: int = 7) -> pd.DataFrame:
    """``rows`` synthetic customer snapshots for ``day``: deterministic in (seed, day, chunk)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(_seed(seed, day, chunk))
    n = rows

    def pick(values: tuple[str, ...], p: list[float]) -> np.ndarray:
        return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p)]

    spec = {c.name: c for c in COLUMNS}
    contract = pick(spec["contract_type"].categories, [0.55, 0.25, 0.20])
    internet = pick(spec["internet_service"].categories, [0.35, 0.45, 0.20])
    tier = pick(spec["plan_tier"].categories, [0.45, 0.35, 0.20])
    tenure = np.minimum(rng.exponential(24, n).astype(np.int64), 120)
    age = np.clip(rng.normal(44, 14, n), 18, 95).astype(np.int64)
    base = np.select([internet == "fiber", internet == "dsl"], [75.0, 50.0], 22.0)
    monthly = np.round(
        base + np.select([tier == "premium", tier == "standard"], [25.0, 10.0], 0.0) + rng.normal(0, 8, n), 2
    )
    monthly = np.clip(monthly, 10, 300)
    total = np.round(monthly * np.maximum(tenure, 1) * rng.uniform(0.9, 1.05, n), 2)
    total[(tenure == 0) | (rng.random(n) < 0.01)] = np.nan  # new customers have no bill yet
    support = rng.poisson(1.1, n)
    engagement = rng.gamma(2.0, 1.0, n)
    logins = np.minimum(rng.poisson(4 + 6 * engagement), 1_000)
    session = np.round(rng.gamma(2.5, 6.0, n), 2)
    session[logins == 0] = np.nan
    usage = np.round(rng.gamma(2.0, 40.0, n), 2)
    usage[internet == "none"] = np.nan
    since_login = np.round(np.minimum(rng.exponential(30 / (1 + engagement), n), 3_650), 1)
    since_login[rng.random(n) < 0.05] = np.nan
    pay_fail = rng.poisson(0.3, n)
    late = rng.poisson(0.6 + 0.8 * pay_fail, n)
    discount = np.where(rng.random(n) < 0.7, 0.0, np.round(rng.uniform(5, 40, n), 1))
    satisfaction = rng.integers(1, 6, n).astype(float)
    satisfaction[rng.random(n) < 0.2] = np.nan
    devices = np.minimum(rng.poisson(2.0, n) + 1, 50)
    months_left = np.select(
        [contract == "two-year", contract == "one-year"], [rng.integers(0, 25, n), rng.integers(0, 13, n)], 0
    )
    referrals = rng.poisson(0.4, n)
    streaming = np.round(rng.gamma(1.5, 20.0, n), 1)
    streaming[rng.random(n) < 0.03] = np.nan
    payment = pick(spec["payment_method"].categories, [0.40, 0.25, 0.25, 0.10])
    payment[rng.random(n) < 0.02] = None
    device_os = pick(spec["device_os"].categories, [0.45, 0.35, 0.15, 0.05])
    device_os[rng.random(n) < 0.03] = None

    sat_effect = np.where(np.isnan(satisfaction), 0.0, satisfaction - 3.0)
    logit = (
        -2.3
        + 1.1 * (contract == "month-to-month")
        - 0.9 * (contract == "two-year")
        - 0.03 * tenure
        + 0.30 * support
        + 0.45 * pay_fail
        + 0.012 * (monthly - 60)
        - 0.30 * sat_effect
        + 0.35 * (internet == "fiber")
        + 0.25 * (payment == "electronic-check")
        + 0.6 * np.tanh(np.nan_to_num(since_login, nan=10.0) / 30)
        - 0.08 * logins / (1 + engagement)
        - 0.02 * discount
        + rng.normal(0, 0.9, n)  # what no feature explains: keeps the task honest
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)

    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    seconds = np.sort(rng.integers(0, 86_400, n))
    ids = (day.toordinal() - 700_000) * 100_000_000 + chunk * CHUNK_ROWS + np.arange(n, dtype=np.int64)
    return pd.DataFrame(
        {
            ID: ids,
            TIMESTAMP: pd.to_datetime(day_start) + pd.to_timedelta(seconds, unit="s"),
            "age": age,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls_90d": support,
            "logins_30d": logins,
            "avg_session_minutes": session,
            "data_usage_gb": usage,
            "days_since_last_login": since_login,
            "payment_failures_12m": pay_fail,
            "late_payments_12m": late,
            "discount_pct": discount,
            "satisfaction_score": satisfaction,
            "num_devices": devices,
            "contract_months_left": months_left,
            "referrals": referrals,
            "streaming_hours": streaming,
            "contract_type": contract,
            "payment_method": payment,
            "internet_service": internet,
            "region": pick(spec["region"].categories, [0.2, 0.2, 0.2, 0.2, 0.15, 0.05]),
            "plan_tier": tier,
            "device_os": device_os,
            "paperless_billing": pick(("yes", "no"), [0.6, 0.4]),
            "has_partner": pick(("yes", "no"), [0.5, 0.5]),
            "acquisition_channel": pick(spec["acquisition_channel"].categories, [0.4, 0.25, 0.15, 0.1, 0.1]),
            LABEL: churned,
        }
    )


def generate_day(day: date, rows: int, seed: int = 7) -> Iterator[pd.DataFrame]:
    """Yield the day's rows in chunks of at most ``CHUNK_ROWS``: memory stays bounded."""
    for chunk, start in enumerate(range(0, rows, CHUNK_ROWS)):
        yield generate_chunk(day, chunk, min(CHUNK_ROWS, rows - start), seed)


def landed_file_name(day: date, fmt: str) -> str:
    return f"{FILE_PREFIX}{day.isoformat()}.{fmt}"


def write_demo_data(
    landing_dir: Path,
    days: int,
    rows_per_day: int,
    fmt: str = "parquet",
    end_date: date | None = None,
    seed: int = 7,
    progress: bool = True,
) -> list[Path]:
    """Write ``days`` daily batch files ending at ``end_date`` (default: yesterday, UTC).

    Each file is written as ``<name>.tmp`` and renamed when complete, so a reader never sees
    half a file. Existing files for the same day are replaced atomically.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm import tqdm

    if fmt not in ("csv", "parquet"):
        raise ValueError(f"--format must be csv or parquet, not {fmt!r}")
    if days < 1 or rows_per_day < 1:
        raise ValueError("--days and --rows-per-day must both be at least 1")
    end = end_date or (datetime.now(UTC).date() - timedelta(days=1))
    landing_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    bar = tqdm(
        total=days * rows_per_day,
        unit="rows",
        unit_scale=True,
        desc="demo-data",
        disable=not progress,
        file=sys.stderr,
    )
    with bar:
        for offset in range(days - 1, -1, -1):
            day = end - timedelta(days=offset)
            final = landing_dir / landed_file_name(day, fmt)
            tmp = final.with_name(final.name + ".tmp")
            writer = None
            try:
                for i, chunk in enumerate(generate_day(day, rows_per_day, seed)):
                    if fmt == "csv":
                        chunk.to_csv(tmp, mode="w" if i == 0 else "a", header=i == 0, index=False)
                    else:
                        table = pa.Table.from_pandas(chunk, preserve_index=False)
                        if writer is None:
                            writer = pq.ParquetWriter(tmp, table.schema)
                        writer.write_table(table)
                    bar.update(len(chunk))
            finally:
                if writer is not None:
                    writer.close()
            os.replace(tmp, final)
            written.append(final)
    return written
