"""Definitions load time vs a bare `import dagster` (issue 2, goal <= 1.5x).

Each contender is a fresh interpreter, as for `dagster dev`, a run worker or a sensor tick."""

from __future__ import annotations

import sys

from common import python_cmd, report, side_by_side

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 15


def main() -> str:
    times = side_by_side(
        {
            "import dagster": python_cmd("import dagster"),
            "load ml_assets definitions": python_cmd(
                "from ml_assets.definitions import defs; defs.resolve_asset_graph(); defs.resolve_all_job_defs()"
            ),
        },
        REPEATS,
    )
    return report("Definitions load time", times, "import dagster")


if __name__ == "__main__":
    print(main())
