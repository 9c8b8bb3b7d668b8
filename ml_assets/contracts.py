"""The data contracts: pandera DataFrameModels for raw data and for features.

They are derived from ``dataset.COLUMNS``, so ``dataset.py`` stays the one module to edit for a
new dataset. The contract owns the rules (dtypes, nullability, ranges, categories, unique ids,
timestamps not in the future); ``ml_assets.lib.quarantine`` compiles the same pandera schema into
vectorized masks with a reason per failing row, and the asset checks report from it.

Importing this module imports pandas and pandera: keep it out of definition-load paths.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from ml_assets import dataset

_DTYPES: dict[str, Any] = {
    "id": "int64",
    "timestamp": pd.DatetimeTZDtype(unit="ns", tz="UTC"),
    "numeric": "float64",
    "integer": "int64",
    "label": "int64",
    "category": "str",
}


def _field(col: dataset.Column, *, feature: bool) -> Any:
    kwargs: dict[str, Any] = {"nullable": col.nullable, "description": col.description}
    if col.ge is not None and col.kind != "timestamp":
        kwargs["ge"] = col.ge
    if col.le is not None and col.kind != "timestamp":
        kwargs["le"] = col.le
    if col.categories:
        kwargs["isin"] = list(col.categories)
    if col.kind == "id":
        kwargs["unique"] = True
    if feature and col.kind == "integer":
        col = dataset.Column(col.name, "numeric", col.description, col.nullable, col.ge, col.le)
    return pa.Field(**kwargs)


def _annotation(col: dataset.Column, *, feature: bool) -> Any:
    kind = "numeric" if feature and col.kind == "integer" else col.kind
    dtype = _DTYPES[kind]
    return Series[dtype] if isinstance(dtype, str) else Series[pd.DatetimeTZDtype]


def _model(name: str, columns: tuple[dataset.Column, ...], doc: str, *, feature: bool) -> type[pa.DataFrameModel]:
    namespace: dict[str, Any] = {"__annotations__": {}, "__doc__": doc, "__module__": __name__}
    for col in columns:
        namespace["__annotations__"][col.name] = _annotation(col, feature=feature)
        field = _field(col, feature=feature)
        if col.kind == "timestamp":
            field = pa.Field(
                nullable=col.nullable, description=col.description, dtype_kwargs={"unit": "ns", "tz": "UTC"}
            )
        namespace[col.name] = field

    def not_in_future(cls: Any, series: pd.Series) -> pd.Series:
        return series.isna() | (series <= pd.Timestamp.now(tz="UTC"))

    namespace["not_in_future"] = pa.check(dataset.TIMESTAMP, name="not_in_future")(not_in_future)

    def no_label_aliases(cls: Any, df: pd.DataFrame) -> bool:
        return not (set(dataset.LABEL_ALIASES) & set(map(str, df.columns)))

    namespace["no_label_aliases"] = pa.dataframe_check(name="no_label_aliases")(no_label_aliases)
    namespace["Config"] = type("Config", (), {"strict": True, "coerce": True, "name": name})
    return type(name, (pa.DataFrameModel,), namespace)


RawData = _model(
    "RawData",
    dataset.COLUMNS,
    "A landed batch after typing: every declared column, with its dtype, range and categories.",
    feature=False,
)

_FEATURE_TABLE_COLUMNS = tuple(
    c for c in dataset.COLUMNS if c.kind in ("id", "timestamp", "label") or c.name in dataset.FEATURES
)
FeatureTable = _model(
    "FeatureTable",
    _FEATURE_TABLE_COLUMNS,
    "The cleaned feature table: keys, numeric features as float64, categoricals as text, and the label.",
    feature=True,
)


def forbidden_feature_names() -> set[str]:
    """Names that must never be a model feature: the label, its aliases, the id and the timestamp."""
    return {dataset.LABEL, *dataset.LABEL_ALIASES, dataset.ID, dataset.TIMESTAMP}
