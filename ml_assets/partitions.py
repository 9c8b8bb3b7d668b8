"""Partitions: one per landed day. Dynamic, so a day exists once a file for it has landed."""

import dagster as dg

landed_days = dg.DynamicPartitionsDefinition(name="landed_days")
