"""Reading landed files and splitting them into clean rows and quarantined rows.

Plain pandas, no Dagster. The rules come from ``dataset.COLUMNS`` (the same specs the pandera
contracts are built from), evaluated as vectorized masks: one pass per rule, and a reason
string per failing row. Landed files are only ever opened for reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ml_assets import dataset
from ml_assets.errors import ContractViolation, LandingZoneError

if TYPE_CHECKING:
    import pandas as pd

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
REASONS = "_quarantine_reasons"
# A column whose non-null values mostly fail to parse has the wrong dtype: that is a schema
# fault for the whole batch, not a handful of bad rows.
SCHEMA_COERCION_FAILURE = 0.5


def list_landed_files(landing_dir: Path) -> dict[str, list[Path]]:
    """Landed files grouped by partition key (day). Files still being written (*.tmp) are ignored."""
    if not landing_dir.exists():
        raise LandingZoneError(
            f"landing zone {landing_dir} does not exist: create it, or run `ml-assets demo-data`, "
            "or point ML_ASSETS_LANDING_DIR at your files"
        )
    by_day: dict[str, list[Path]] = {}
    for path in sorted(landing_dir.iterdir()):
        if path.is_file():
            key = dataset.partition_key_for(path)
            if key is not None:
                by_day.setdefault(key, []).append(path)
    return by_day


def read_landed_file(path: Path) -> pd.DataFrame:
    """Read one landed file with every column as text (parsing is ``coerce``'s job).

    Raises ContractViolation naming the file for an empty, header-only, truncated or unparseable
    file, or one in the wrong encoding or with the wrong delimiter.
    """
    import pandas as pd

    if not path.exists():
        raise LandingZoneError(f"{path}: landed file not found")
    if path.stat().st_size == 0:
        raise ContractViolation(f"{path}: file is empty (0 bytes)")
    if path.suffix == ".parquet":
        import pyarrow.lib

        try:
            df = pd.read_parquet(path)
        except (OSError, pyarrow.lib.ArrowException) as exc:
            raise ContractViolation(f"{path}: not a readable Parquet file ({exc})") from None
    else:
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ContractViolation(
                f"{path}: not valid UTF-8 at byte {exc.start} (was it saved as Latin-1? re-export it as UTF-8)"
            ) from None
        except pd.errors.EmptyDataError:
            raise ContractViolation(f"{path}: file has no header and no rows") from None
        except pd.errors.ParserError as exc:
            raise ContractViolation(f"{path}: CSV cannot be parsed ({str(exc).strip()})") from None
        if len(df.columns) == 1 and len(dataset.COLUMNS) > 1 and (";" in df.columns[0] or "\t" in df.columns[0]):
            sep = "semicolon" if ";" in df.columns[0] else "tab"
            raise ContractViolation(f"{path}: file is {sep}-delimited; ml-assets expects comma-separated CSV")
    if len(df) == 0:
        raise ContractViolation(f"{path}: file has a header but no rows")
    return df


def check_columns(df: pd.DataFrame, source: str) -> None:
    """Schema-level fault: a missing, renamed or extra column fails the whole batch."""
    expected = list(dataset.COLUMN_NAMES)
    actual = [str(c) for c in df.columns]
    missing = [c for c in expected if c not in actual]
    extra = [c for c in actual if c not in expected]
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"missing column(s) {missing}")
    if extra:
        parts.append(f"unexpected column(s) {extra}")
    hint = ""
    if len(missing) == 1 and len(extra) == 1:
        hint = f" (was {missing[0]!r} renamed to {extra[0]!r}?)"
    if dataset.LABEL in missing and any(e in dataset.LABEL_ALIASES for e in extra):
        hint = f" (the label must be called {dataset.LABEL!r})"
    raise ContractViolation(f"{source}: {'; '.join(parts)}{hint}")


@dataclass
class SplitResult:
    clean: pd.DataFrame
    quarantined: pd.DataFrame
    input_rows: int
    reason_counts: dict[str, int]

    @property
    def bad_fraction(self) -> float:
        return len(self.quarantined) / self.input_rows if self.input_rows else 0.0


def _coerce(df: pd.DataFrame, source: str) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Typed copy of ``df`` plus, per column, a mask of values that failed to parse."""
    import pandas as pd

    typed: dict[str, pd.Series] = {}
    unparseable: dict[str, pd.Series] = {}
    for col in dataset.COLUMNS:
        raw = df[col.name]
        if col.kind == "timestamp":
            if pd.api.types.is_datetime64_any_dtype(raw):
                values = raw.dt.tz_localize("UTC") if raw.dt.tz is None else raw.dt.tz_convert("UTC")
            else:
                values = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
        elif col.kind == "category":
            values = raw.astype(object).where(raw.notna(), None)
            if not (pd.api.types.is_object_dtype(raw) or pd.api.types.is_string_dtype(raw)):
                values = values.map(lambda v: None if v is None else str(v))
            values = values.astype(object)
        else:
            if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_numeric_dtype(raw):
                values = raw.astype("float64")
            else:
                values = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = raw.notna() & pd.Series(pd.isna(values), index=raw.index) if col.kind != "category" else None
        if bad is not None and bad.any():
            nonnull = int(raw.notna().sum())
            if nonnull and bad.sum() / nonnull > SCHEMA_COERCION_FAILURE:
                first = raw[bad].iloc[0]
                expected = "a timestamp" if col.kind == "timestamp" else "a number"
                raise ContractViolation(
                    f"{source}: column {col.name!r} cannot be coerced to {expected}: "
                    f"{int(bad.sum())} of {nonnull} values fail, e.g. {first!r} in row {int(bad.idxmax())}"
                )
            unparseable[col.name] = bad
        typed[col.name] = values
    return pd.DataFrame(typed, index=df.index), unparseable


def split_rows(
    df: pd.DataFrame, source: str, partition_key: str | None = None, now: datetime | None = None
) -> SplitResult:
    """Validate every row against the column rules; return clean rows and quarantined rows.

    Invariant: len(clean) + len(quarantined) == len(df). Each quarantined row keeps its raw
    values (as text), the file and row it came from, and every rule it broke.
    """
    import numpy as np
    import pandas as pd

    check_columns(df, source)
    df = df.reset_index(drop=True)
    typed, unparseable = _coerce(df, source)
    n = len(df)
    reasons = np.full(n, "", dtype=object)
    counts: dict[str, int] = {}

    def flag(mask: np.ndarray | pd.Series, reason: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        hits = int(mask.sum())
        if hits:
            counts[reason] = counts.get(reason, 0) + hits
            reasons[mask] = reasons[mask] + (reason + "; ")

    for name, bad in unparseable.items():
        flag(bad, f"{name}: not parseable")
    now = now or datetime.now(UTC)
    for col in dataset.COLUMNS:
        values = typed[col.name]
        isna = values.isna().to_numpy()
        if not col.nullable:
            miss = isna & ~unparseable.get(col.name, pd.Series(False, index=values.index)).to_numpy()
            flag(miss, f"{col.name}: missing")
        if col.kind in ("numeric", "integer", "label", "id"):
            arr = values.to_numpy(dtype="float64", na_value=np.nan)
            flag(np.isinf(arr), f"{col.name}: infinite")
            finite = np.isfinite(arr)
            if col.ge is not None:
                flag(finite & (arr < col.ge), f"{col.name}: below {col.ge:g}")
            if col.le is not None:
                flag(finite & (arr > col.le), f"{col.name}: above {col.le:g}")
            if col.kind in ("integer", "label", "id"):
                flag(finite & (np.floor(arr) != arr), f"{col.name}: not a whole number")
        elif col.kind == "category" and col.categories:
            flag(~isna & ~values.isin(col.categories).to_numpy(), f"{col.name}: unknown category")
        elif col.kind == "timestamp":
            ts = values
            flag((ts > pd.Timestamp(now)).to_numpy(na_value=False), f"{col.name}: in the future")
            if partition_key is not None:
                start = pd.Timestamp(datetime.combine(date.fromisoformat(partition_key), datetime.min.time()), tz="UTC")
                outside = (ts < start) | (ts >= start + timedelta(days=1))
                flag(outside.to_numpy(na_value=False), f"{col.name}: outside partition day {partition_key}")
    ids = typed[dataset.ID]
    dup = ids.duplicated(keep="first").to_numpy() & ids.notna().to_numpy()
    flag(dup, f"{dataset.ID}: duplicate id")

    bad = reasons != ""
    clean = typed.loc[~bad].copy()
    for col in dataset.COLUMNS:
        if col.kind in ("integer", "label", "id"):
            clean[col.name] = clean[col.name].astype("int64")
    clean = clean.reset_index(drop=True)
    quarantined = df.loc[bad].astype(object).where(df.loc[bad].notna(), None).astype(str)
    quarantined = quarantined.where(df.loc[bad].notna(), None)
    quarantined.insert(0, REASONS, [r.rstrip("; ") for r in reasons[bad]])
    quarantined.insert(0, SOURCE_ROW, np.flatnonzero(bad).astype("int64"))
    quarantined.insert(0, SOURCE_FILE, source)
    quarantined = quarantined.reset_index(drop=True)
    assert len(clean) + len(quarantined) == n, "row accounting broken: rows would be lost"
    return SplitResult(clean=clean, quarantined=quarantined, input_rows=n, reason_counts=counts)


def ingest_partition(files: list[Path], partition_key: str | None, now: datetime | None = None) -> SplitResult:
    """Read and validate every file landed for one day; rows from all files are pooled."""
    import pandas as pd

    if not files:
        raise LandingZoneError(f"no landed file for partition {partition_key}")
    results = [split_rows(read_landed_file(p), str(p), partition_key, now) for p in files]
    if len(results) == 1:
        return results[0]
    clean = pd.concat([r.clean for r in results], ignore_index=True)
    quarantined = pd.concat([r.quarantined for r in results], ignore_index=True)
    counts: dict[str, int] = {}
    for r in results:
        for k, v in r.reason_counts.items():
            counts[k] = counts.get(k, 0) + v
    dup = clean[dataset.ID].duplicated(keep="first")
    if dup.any():  # ids must be unique across the day's files too
        raise ContractViolation(
            f"partition {partition_key}: {int(dup.sum())} {dataset.ID} values appear in more than one of "
            f"{[p.name for p in files]}: land each row once"
        )
    return SplitResult(clean, quarantined, sum(r.input_rows for r in results), counts)
