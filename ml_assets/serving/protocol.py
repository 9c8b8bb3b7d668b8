"""MLflow's scoring protocol, parsed and validated against the feature contract.

Accepted exactly as ``mlflow models serve`` accepts them, so existing clients work unchanged:
JSON with one of ``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs``, or CSV.
Every rejection names the field (and row) and what was wrong, and maps to a 4xx status.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ml_assets import dataset

NUMERIC = frozenset(dataset.NUMERIC_FEATURES)
CATEGORICAL = frozenset(dataset.CATEGORICAL_FEATURES)
FEATURES = tuple(dataset.FEATURES)
_SPECS = {c.name: c for c in dataset.COLUMNS}
# Columns a client may send along (ids, timestamps, the label of a labelled sample): ignored.
IGNORED = frozenset({dataset.ID, dataset.TIMESTAMP, dataset.LABEL})


class RequestError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        codes = {413: "REQUEST_LIMIT_EXCEEDED", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "INVALID_PARAMETER_VALUE"}
        out: dict[str, Any] = {"error_code": codes.get(self.status, "BAD_REQUEST")}
        out["message"] = self.message
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class Batch:
    columns: dict[str, list[Any]]  # feature -> values, one per row
    rows: int


def _reject_constant(token: str) -> float:
    raise RequestError(422, f"{token} is not a valid number in JSON: send null for a missing value")


def parse(body: bytes, content_type: str, max_rows: int) -> Batch:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return _from_csv(body, max_rows)
    if kind not in ("application/json", ""):
        raise RequestError(415, f"unsupported content type {content_type!r}: use application/json or text/csv")
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except RequestError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise RequestError(
            400, "the JSON body must be an object with one of dataframe_split, dataframe_records, instances or inputs"
        )
    keys = [k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in payload]
    unknown = sorted(set(payload) - {"dataframe_split", "dataframe_records", "instances", "inputs", "params"})
    if len(keys) != 1 or unknown:
        raise RequestError(
            400,
            "the JSON body must hold exactly one of dataframe_split, dataframe_records, instances or inputs"
            + (f"; unknown key(s) {unknown}" if unknown else ""),
        )
    if payload.get("params"):
        raise RequestError(400, "this model takes no params", field="params")
    key = keys[0]
    data = payload[key]
    if key == "dataframe_split":
        return _from_split(data, max_rows)
    if isinstance(data, dict):  # instances/inputs in columnar form: {"col": [values]}
        return _from_columns(data, max_rows, key)
    return _from_records(data, max_rows, key)


def _check_columns(names: list[str], where: str) -> None:
    missing = [c for c in FEATURES if c not in names]
    extra = [c for c in names if c not in _SPECS and c not in IGNORED]
    if missing:
        raise RequestError(400, f"{where}: missing column(s) {missing}", field=missing[0])
    if extra:
        raise RequestError(400, f"{where}: unexpected column(s) {extra}", field=str(extra[0]))
    if len(set(names)) != len(names):
        raise RequestError(400, f"{where}: duplicate column names", field="columns")


def _limit(n: int, max_rows: int) -> None:
    if n == 0:
        raise RequestError(400, "empty input: send at least one row")
    if n > max_rows:
        raise RequestError(413, f"{n} rows is more than the limit of {max_rows} per request: split the batch")


def _from_split(data: Any, max_rows: int) -> Batch:
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("columns"), list)
        or not isinstance(data.get("data"), list)
    ):
        raise RequestError(
            400, "dataframe_split needs 'columns' (a list) and 'data' (a list of rows)", "dataframe_split"
        )
    names = [str(c) for c in data["columns"]]
    rows = data["data"]
    _limit(len(rows), max_rows)
    _check_columns(names, "dataframe_split")
    cols: dict[str, list[Any]] = {c: [None] * len(rows) for c in FEATURES}
    index = {c: i for i, c in enumerate(names)}
    positions = [(c, index[c]) for c in FEATURES]
    for r, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            raise RequestError(400, f"row {r}: expected a list of {len(names)} values", field=f"data[{r}]")
        for c, i in positions:
            cols[c][r] = row[i]
    return _validate(cols, len(rows))


def _from_records(data: Any, max_rows: int, key: str) -> Batch:
    if not isinstance(data, list):
        raise RequestError(400, f"{key} must be a list of objects (one per row)", field=key)
    _limit(len(data), max_rows)
    if not all(isinstance(r, dict) for r in data):
        raise RequestError(400, f"{key}: every row must be an object of column: value", field=key)
    _check_columns(list(data[0]), key)
    cols: dict[str, list[Any]] = {c: [None] * len(data) for c in FEATURES}
    for r, row in enumerate(data):
        if len(row) != len(data[0]) or any(c not in row for c in FEATURES):
            _check_columns(list(row), f"{key} row {r}")
        for c in FEATURES:
            cols[c][r] = row[c]
    return _validate(cols, len(data))


def _from_columns(data: dict[str, Any], max_rows: int, key: str) -> Batch:
    _check_columns([str(c) for c in data], key)
    lengths = {len(v) if isinstance(v, list) else -1 for c, v in data.items() if c in FEATURES}
    if -1 in lengths or len(lengths) != 1:
        raise RequestError(400, f"{key}: in columnar form every column must be a list of the same length", field=key)
    n = lengths.pop()
    _limit(n, max_rows)
    return _validate({c: list(data[c]) for c in FEATURES}, n)


def _from_csv(body: bytes, max_rows: int) -> Batch:
    import io

    import pandas as pd

    try:
        df = pd.read_csv(io.BytesIO(body), keep_default_na=True)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise RequestError(400, f"CSV cannot be parsed: {str(exc).strip().splitlines()[0]}") from None
    _limit(len(df), max_rows)
    _check_columns([str(c) for c in df.columns], "csv")
    cols = {}
    for c in FEATURES:
        values = df[c].astype(object).where(df[c].notna(), None).tolist()
        if c in NUMERIC:
            bad = [i for i, v in enumerate(values) if v is not None and not isinstance(v, int | float)]
            if bad:
                raise RequestError(422, f"column {c!r} row {bad[0]}: expected a number, got {values[bad[0]]!r}", c)
        cols[c] = values
    return _validate(cols, len(df))


def _validate(cols: dict[str, list[Any]], n: int) -> Batch:
    """Types and ranges from the contract; unknown categories are allowed (the Pipeline ignores them)."""
    for c in FEATURES:
        values = cols[c]
        spec = _SPECS[c]
        if c in NUMERIC:
            lo, hi = spec.ge, spec.le
            for r, v in enumerate(values):
                if v is None:
                    if not spec.nullable:
                        raise RequestError(422, f"column {c!r} row {r}: a value is required", c)
                    continue
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise RequestError(422, f"column {c!r} row {r}: expected a number, got {v!r}", c)
                if not math.isfinite(v):
                    raise RequestError(422, f"column {c!r} row {r}: {v} is not a finite number", c)
                if (lo is not None and v < lo) or (hi is not None and v > hi):
                    raise RequestError(422, f"column {c!r} row {r}: {v} is outside [{lo:g}, {hi:g}]", c)
        else:
            for r, v in enumerate(values):
                if v is None:
                    if not spec.nullable:
                        raise RequestError(422, f"column {c!r} row {r}: a value is required", c)
                elif not isinstance(v, str):
                    raise RequestError(422, f"column {c!r} row {r}: expected text, got {v!r}", c)
    return Batch(cols, n)


def to_frame(batches: list[Batch]) -> Any:
    """One DataFrame for one or many batches (the micro-batcher's merge)."""
    import numpy as np
    import pandas as pd

    if len(batches) == 1:
        cols = batches[0].columns
    else:
        cols = {c: [v for b in batches for v in b.columns[c]] for c in FEATURES}
    data = {}
    for c in FEATURES:
        if c in NUMERIC:
            data[c] = np.array([np.nan if v is None else v for v in cols[c]], dtype="float64")
        else:
            data[c] = np.array(cols[c], dtype=object)
    return pd.DataFrame(data, columns=list(FEATURES))
