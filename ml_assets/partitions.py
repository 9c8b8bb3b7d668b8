"""Partitions: one per landed day. Dynamic, so a day exists once a file for it has landed."""

import warnings

import dagster as dg

landed_days = dg.DynamicPartitionsDefinition(name="landed_days")


def day_check(name: str, asset: str, description: str, blocking: bool = False) -> dg.AssetCheckSpec:
    """A check on a day-partitioned asset whose results belong to that day.

    Without the partitions, a day's result would be the check's latest result for *every* day:
    a later batch passing would make automation treat an earlier blocked day as passed.
    (Partitioned check specs are a Dagster preview feature in 1.13; its warning is expected.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name, asset=asset, blocking=blocking, description=description, partitions_def=landed_days
        )
