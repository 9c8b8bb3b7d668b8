"""Annotations for asset signatures.

Dagster evaluates asset annotations when definitions load, and importing pandas there costs
more than importing Dagster itself. Asset parameters are therefore annotated with these
aliases; the values are pandas DataFrames.
"""

from typing import Any

Frame = Any  # a pandas.DataFrame
LazyPartitions = dict  # {partition key: zero-argument loader of that day's DataFrame}
