"""Parquet storage for DataFrames (and JSON for small references) on universal paths.

``base_path`` may be a local directory or any fsspec URL (``s3://bucket/warehouse``), so the
same code moves from a laptop to object storage by configuration alone. Tables are never
pickled, and models never pass through here: they live in MLflow.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import dagster as dg
from upath import UPath


class ParquetWarehouse(dg.UPathIOManager):
    extension: str = ""  # chosen per object below

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        import pandas as pd

        if isinstance(obj, pd.DataFrame):
            with path.with_suffix(".parquet").open("wb") as f:
                obj.to_parquet(f, index=False)
        elif isinstance(obj, dict):
            with path.with_suffix(".json").open("w") as f:
                json.dump(obj, f, indent=2, sort_keys=True, default=str)
        else:
            raise TypeError(
                f"{context.asset_key.to_user_string()}: the warehouse stores DataFrames and dicts, "
                f"not {type(obj).__name__}"
            )

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        import pandas as pd

        if path.with_suffix(".parquet").exists():
            with path.with_suffix(".parquet").open("rb") as f:
                return pd.read_parquet(f)
        if path.with_suffix(".json").exists():
            with path.with_suffix(".json").open() as f:
                return json.load(f)
        raise FileNotFoundError(f"no stored value for {context.asset_key.to_user_string()} at {path}")

    def load_partitions(self, context: dg.InputContext) -> Any:
        """With input metadata ``{"lazy": True}``, return ``{partition: loader}`` for the partitions
        that exist, so a consumer can pick a window without reading every day into memory."""
        if not (context.definition_metadata or {}).get("lazy"):
            return super().load_partitions(context)
        base = self._base_path / self.get_asset_relative_path(context)
        loaders: dict[str, Callable[[], Any]] = {}
        for key in sorted(context.asset_partition_keys):
            path = self.get_path_for_partition(context, base, key)
            if path.with_suffix(".parquet").exists() or path.with_suffix(".json").exists():
                loaders[key] = partial(self.load_from_path, context, path)
        return loaders


class WarehouseIOManager(dg.ConfigurableIOManagerFactory):
    """Stores asset values under ``base_path/<asset key>/<partition>.parquet``."""

    base_path: str

    def create_io_manager(self, context: dg.InitResourceContext) -> ParquetWarehouse:
        return ParquetWarehouse(base_path=UPath(self.base_path))
