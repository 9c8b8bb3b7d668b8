"""Reading landed files and splitting them into clean rows and quarantined rows.

Plain pandas, no Dagster. The rules come from ``dataset.COLUMNS`` (the same specs the pandera
contracts are built from), evaluated as vectorized masks: one pass per rule, and a reason
string per failing row. Landed files are only ever opened for reading.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
        _check_not_truncated(path, len(df.columns), len(df))
    if len(df) == 0:
        raise ContractViolation(f"{path}: file has a header but no rows")
    return df


def _check_not_truncated(path: Path, n_fields: int, n_rows: int) -> None:
    """pandas pads a short last line with NaN; a cut-off file must fail loudly instead."""
    import csv

    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 65_536))
        tail = handle.read().decode("utf-8", errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    if not lines:
        return
    fields = next(csv.reader([lines[-1]]), [])
    if len(fields) < n_fields:
        raise ContractViolation(
            f"{path}: file is truncated: its last line (data row {n_rows - 1}) has {len(fields)} of {n_fields} "
            "fields; re-send the complete file"
        )


def check_columns(df: pd.DataFrame, source: str) -> list[str]:
    """Schema-level fault: a missing, renamed or extra column fails the whole batch.

    The one exception is a column named like the label (``LABEL_ALIASES``): it is carried on and
    returned, so the leakage check on cleaned_features blocks it visibly, by name.
    """
    expected = list(dataset.COLUMN_NAMES)
    actual = [str(c) for c in df.columns]
    missing = [c for c in expected if c not in actual]
    carried = [c for c in actual if c not in expected and c.lower() in dataset.LABEL_ALIASES]
    extra = [c for c in actual if c not in expected and c not in carried]
    if len(set(actual)) != len(actual):
        dupes = sorted({c for c in actual if actual.count(c) > 1})
        raise ContractViolation(f"{source}: duplicate column name(s) {dupes}")
    if not missing and not extra:
        return carried
    parts = []
    if missing:
        parts.append(f"missing column(s) {missing}")
    if extra:
        parts.append(f"unexpected column(s) {extra}")
    hint = ""
    if len(missing) == 1 and len(extra) == 1:
        hint = f" (was {missing[0]!r} renamed to {extra[0]!r}?)"
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


@functools.cache
def raw_rules() -> list[Any]:
    """The raw contract's row rules, compiled once per process."""
    from ml_assets import contracts
    from ml_assets.lib import quarantine

    return quarantine.compile_rules(contracts.RawData.to_schema())


def _coerce(df: pd.DataFrame, source: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Typed copy of ``df`` (dtypes from the raw contract), plus per column a mask of values that
    were present but failed to parse. A column that mostly fails is a schema fault."""
    import pandas as pd

    from ml_assets import contracts

    typed: dict[str, pd.Series] = {}
    unparseable: dict[str, Any] = {}
    for name, col in contracts.RawData.to_schema().columns.items():
        raw = df[name]
        dtype = str(col.dtype)
        if dtype.startswith("datetime64"):
            if pd.api.types.is_datetime64_any_dtype(raw):
                values = raw.dt.tz_localize("UTC") if raw.dt.tz is None else raw.dt.tz_convert("UTC")
            else:
                values = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
            expected = "a timestamp"
        elif dtype.startswith(("int", "float")):
            if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
                values = raw.astype("float64")
            else:
                values = pd.to_numeric(raw, errors="coerce").astype("float64")
            expected = "a number"
        else:
            values = raw.astype(object)
            if not (pd.api.types.is_object_dtype(raw) or pd.api.types.is_string_dtype(raw)):
                values = values.map(lambda v: v if v is None else str(v))
            typed[name] = values.where(raw.notna(), None)
            continue
        bad = (raw.notna() & values.isna()).to_numpy()
        if bad.any():
            nonnull = int(raw.notna().sum())
            if nonnull and bad.sum() / nonnull > SCHEMA_COERCION_FAILURE:
                first_row = int(bad.argmax())
                raise ContractViolation(
                    f"{source}: column {name!r} cannot be coerced to {expected}: {int(bad.sum())} of {nonnull} "
                    f"values fail, e.g. {raw.iloc[first_row]!r} in row {first_row}"
                )
            unparseable[f"{name}: not parseable as {expected[2:]}"] = bad
        typed[name] = values
    return pd.DataFrame(typed, index=df.index), unparseable


def split_rows(
    df: pd.DataFrame, source: str, partition_key: str | None = None, now: datetime | None = None
) -> SplitResult:
    """Validate every row against the raw contract; return clean rows and quarantined rows.

    Invariant: len(clean) + len(quarantined) == len(df). Each quarantined row keeps its raw
    values (as text), the file and row it came from, and every rule it broke.
    """
    import numpy as np
    import pandas as pd

    from ml_assets.lib import quarantine

    carried = check_columns(df, source)
    df = df.reset_index(drop=True)
    typed, extra = _coerce(df, source)
    for name in carried:
        typed[name] = pd.to_numeric(df[name], errors="coerce") if df[name].notna().any() else df[name]
    ts = typed[dataset.TIMESTAMP]
    if now is not None:  # the contract's own check uses the wall clock; tests may pin it
        extra[f"{dataset.TIMESTAMP}: not_in_future"] = (ts > pd.Timestamp(now)).to_numpy(na_value=False)
    if partition_key is not None:
        start = pd.Timestamp(date.fromisoformat(partition_key).isoformat(), tz="UTC")
        outside = (ts < start) | (ts >= start + timedelta(days=1))
        extra[f"{dataset.TIMESTAMP}: outside partition day {partition_key}"] = outside.to_numpy(na_value=False)
    rules = [r for r in raw_rules() if not (now is not None and r.name == "not_in_future")]
    verdict = quarantine.evaluate(typed, rules, extra)
    bad = verdict.bad
    clean = typed.loc[~bad]
    clean = clean.astype({c.name: "int64" for c in dataset.COLUMNS if c.kind in ("integer", "label", "id")})
    clean = clean.reset_index(drop=True)
    raw_bad = df.loc[bad, [c for c in df.columns if c not in carried]]
    quarantined = raw_bad.astype(str).where(raw_bad.notna(), None)
    quarantined.insert(0, REASONS, verdict.reasons[bad])
    quarantined.insert(0, SOURCE_ROW, np.flatnonzero(bad).astype("int64"))
    quarantined.insert(0, SOURCE_FILE, source)
    quarantined = quarantined.reset_index(drop=True)
    if len(clean) + len(quarantined) != len(df):
        raise AssertionError(f"{source}: row accounting broken; refusing to lose rows")
    return SplitResult(clean=clean, quarantined=quarantined, input_rows=len(df), reason_counts=verdict.counts)


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
