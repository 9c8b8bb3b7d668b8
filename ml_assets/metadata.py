"""Helpers that turn plain results into Dagster metadata (the UI is the metadata)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from ml_assets import dataset

if TYPE_CHECKING:
    import pandas as pd

_TYPES = {"id": "int64", "timestamp": "timestamp[UTC]", "numeric": "float64", "integer": "int64", "label": "int64"}


def dataset_column_schema(extra: list[dg.TableColumn] | None = None) -> dg.TableSchema:
    """Column schema from ``dataset.COLUMNS`` (no pandas needed at definition time)."""
    cols = [
        dg.TableColumn(
            c.name,
            _TYPES.get(c.kind, "string"),
            description=c.description,
            constraints=dg.TableColumnConstraints(nullable=c.nullable, unique=c.kind == "id"),
        )
        for c in dataset.COLUMNS
    ]
    return dg.TableSchema(columns=[*(extra or []), *cols])


def frame_schema(df: pd.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(str(c), str(t)) for c, t in df.dtypes.items()])


def markdown_sample(df: pd.DataFrame, rows: int = 10, columns: list[str] | None = None) -> dg.MetadataValue:
    """A few rows as a markdown table, for check metadata a person can read without logs."""
    sample = df.head(rows) if columns is None else df.loc[:, [c for c in columns if c in df.columns]].head(rows)
    if sample.empty:
        return dg.MetadataValue.md("_no rows_")
    header = "| " + " | ".join(map(str, sample.columns)) + " |"
    sep = "|" + "---|" * len(sample.columns)
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in sample.itertuples(index=False)]
    return dg.MetadataValue.md("\n".join([header, sep, *body]))


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:80]


def counts_table(counts: dict[str, int], key: str = "rule", value: str = "rows") -> dg.MetadataValue:
    if not counts:
        return dg.MetadataValue.md("_none_")
    lines = [f"| {key} | {value} |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
    return dg.MetadataValue.md("\n".join(lines))


def png(data: bytes, title: str) -> dg.MetadataValue:
    """An image the Dagster UI shows inline (markdown with a data URI)."""
    import base64

    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{base64.b64encode(data).decode()})")
