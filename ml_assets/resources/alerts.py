"""Alerts: a structured log line by default, a webhook by configuration."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import dagster as dg

log = logging.getLogger("ml_assets.alerts")


class AlertResource(dg.ConfigurableResource):
    """Sends each alert once: always as one JSON log line, and to ``webhook_url`` when set."""

    webhook_url: str | None = None
    timeout_seconds: float = 5.0

    def send(self, event: str, message: str, **fields: Any) -> dict[str, Any]:
        record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "event": event, "message": message, **fields}
        line = json.dumps(record, default=str, sort_keys=True)
        log.warning("ALERT %s", line)
        print(f"ALERT {line}", flush=True)
        if self.webhook_url:
            import requests

            try:
                requests.post(self.webhook_url, json=record, timeout=self.timeout_seconds).raise_for_status()
            except requests.RequestException as exc:
                # the alert is already in the log; a dead webhook must not hide the original problem
                log.error("alert webhook %s failed: %s", self.webhook_url, exc)
                record["webhook_error"] = str(exc)
        return record
