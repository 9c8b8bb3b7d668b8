"""The landing zone: a folder where upstream systems drop daily batch files."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ml_assets.lib import ingest


class LandingZone(dg.ConfigurableResource):
    """Read-only view of the landing zone. Nothing here ever writes, moves or deletes a file."""

    path: str

    @property
    def directory(self) -> Path:
        return Path(self.path)

    def files_by_partition(self) -> dict[str, list[Path]]:
        """Complete landed files grouped by day (``*.tmp`` files are still being written)."""
        return ingest.list_landed_files(self.directory)

    def files_for(self, partition_key: str) -> list[Path]:
        return self.files_by_partition().get(partition_key, [])
