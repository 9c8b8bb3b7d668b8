"""Row-level contract validation with reasons, compiled from the pandera contract.

``schema.validate(df, lazy=True)`` answers "is this frame valid?" and builds failure-case frames
on the way; at a million rows that costs about 20x a hand-written mask. Quarantine needs a
different answer, "which rows break which rules?", so each pandera check is compiled once into a
vectorized numpy mask (min/max/range/isin use the check's own statistics; any other check runs
through pandera's check function, still vectorized). The contract stays the single source of
the rules; this module only decides how to evaluate them fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pandera.pandas as pa

Mask = Callable[["pd.Series"], "np.ndarray"]


@dataclass(frozen=True)
class Rule:
    column: str
    name: str  # what a person reads in the quarantine reason and the check metadata
    bad: Mask


def _float(values: pd.Series) -> np.ndarray:
    import numpy as np

    return values.to_numpy(dtype="float64", na_value=np.nan)


def _statistic_rule(column: str, check: Any, numeric: bool) -> Rule | None:
    """Known pandera checks, evaluated from their statistics; None for anything else."""
    import numpy as np

    s = check.statistics or {}
    name = check.name
    if name in ("greater_than_or_equal_to", "greater_than", "less_than_or_equal_to", "less_than") and numeric:
        bound = float(s.get("min_value", s.get("max_value")))
        ops = {
            "greater_than_or_equal_to": (np.less, "below"),
            "greater_than": (np.less_equal, "not above"),
            "less_than_or_equal_to": (np.greater, "above"),
            "less_than": (np.greater_equal, "not below"),
        }
        op, word = ops[name]

        def bad(values: pd.Series, op: Any = op, bound: float = bound) -> np.ndarray:
            arr = _float(values)
            with np.errstate(invalid="ignore"):
                return op(arr, bound) & np.isfinite(arr)

        return Rule(column, f"{word} {bound:g}", bad)
    if name == "in_range" and numeric:
        lo, hi = float(s["min_value"]), float(s["max_value"])

        def bad(values: pd.Series, lo: float = lo, hi: float = hi) -> np.ndarray:
            arr = _float(values)
            with np.errstate(invalid="ignore"):
                return ((arr < lo) | (arr > hi)) & np.isfinite(arr)

        return Rule(column, f"outside [{lo:g}, {hi:g}]", bad)
    if name == "isin":
        allowed = list(s["allowed_values"])
        return Rule(column, "unknown category", lambda v, a=allowed: (~v.isin(a) & v.notna()).to_numpy())
    if name == "notin":
        forbidden = list(s["forbidden_values"])
        return Rule(column, "forbidden value", lambda v, f=forbidden: v.isin(f).to_numpy())
    return None


def _pandera_rule(column: str, check: Any) -> Rule:
    """Fallback: run pandera's own (vectorized) check function on the column."""

    def bad(values: pd.Series, check: Any = check) -> np.ndarray:
        import numpy as np

        out = check(values).check_output
        if not hasattr(out, "to_numpy"):  # a scalar verdict applies to every non-null row
            return np.full(len(values), not bool(out)) & values.notna().to_numpy()
        return ~out.to_numpy(dtype=bool, na_value=True) & values.notna().to_numpy()

    return Rule(column, check.name or "custom check", bad)


def compile_rules(schema: pa.DataFrameSchema) -> list[Rule]:
    """Every row-level rule of ``schema``: nullability, finiteness, whole numbers, uniqueness, checks."""
    import numpy as np

    rules: list[Rule] = []
    for name, col in schema.columns.items():
        dtype = str(col.dtype)
        numeric = dtype.startswith(("int", "float"))
        if not col.nullable:
            rules.append(Rule(name, "missing", lambda v: v.isna().to_numpy()))
        if numeric:
            rules.append(Rule(name, "infinite", lambda v: np.isinf(_float(v))))
        if dtype.startswith("int"):

            def not_whole(v: pd.Series) -> np.ndarray:
                arr = _float(v)
                with np.errstate(invalid="ignore"):
                    return np.isfinite(arr) & (np.floor(arr) != arr)

            rules.append(Rule(name, "not a whole number", not_whole))
        for check in col.checks:
            rules.append(_statistic_rule(name, check, numeric) or _pandera_rule(name, check))
        if col.unique:
            rules.append(Rule(name, "duplicate id", lambda v: (v.duplicated(keep="first") & v.notna()).to_numpy()))
    return rules


@dataclass
class Verdict:
    bad: np.ndarray  # one bool a row
    reasons: np.ndarray  # "" for good rows, "col: rule; col: rule" for bad ones
    counts: dict[str, int]  # "col: rule" -> rows


def evaluate(frame: pd.DataFrame, rules: list[Rule], extra: dict[str, np.ndarray] | None = None) -> Verdict:
    """Apply every rule; ``extra`` adds precomputed masks (e.g. values that failed to parse)."""
    import numpy as np

    n = len(frame)
    any_bad = np.zeros(n, dtype=bool)
    hits: list[tuple[str, np.ndarray]] = []
    for label, mask in (extra or {}).items():
        if mask.any():
            hits.append((label, mask))
    for rule in rules:
        mask = rule.bad(frame[rule.column])
        if mask.any():
            hits.append((f"{rule.column}: {rule.name}", mask))
    counts: dict[str, int] = {}
    for _, mask in hits:
        any_bad |= mask
    reasons = np.full(n, "", dtype=object)
    if any_bad.any():
        # reasons are built only over the bad rows: cheap when they are few
        idx = np.flatnonzero(any_bad)
        parts = np.full(len(idx), "", dtype=object)
        for label, mask in hits:
            sub = mask[idx]
            counts[label] = int(mask.sum())
            parts[sub] = parts[sub] + (label + "; ")
        reasons[idx] = [p[:-2] for p in parts]
    return Verdict(any_bad, reasons, counts)
