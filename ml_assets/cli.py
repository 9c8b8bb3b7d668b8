"""The `ml-assets` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from ml_assets.errors import MLAssetsError
from ml_assets.settings import ENV_VARS, get_settings

DEMO_DAYS = 7
DEMO_ROWS = 20_000


def _landing_is_empty(settings: object) -> bool:
    from ml_assets.lib import ingest

    landing = settings.landing_dir  # type: ignore[attr-defined]
    return not landing.exists() or not ingest.list_landed_files(landing)


def cmd_demo_data(args: argparse.Namespace) -> int:
    from ml_assets import dataset

    settings = get_settings()
    end = date.fromisoformat(args.end_date) if args.end_date else None
    paths = dataset.write_demo_data(
        settings.landing_dir, args.days, args.rows_per_day, args.format, end_date=end, seed=args.seed
    )
    print(f"wrote {len(paths)} file(s) to {settings.landing_dir}: {paths[0].name} .. {paths[-1].name}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Create the embedded state: directories, MLflow schema, demo data if the landing zone is empty."""
    from ml_assets import dataset
    from ml_assets.resources.mlflow import ensure_store
    from ml_assets.runner import prepare_instance_env

    settings = get_settings()
    settings.ensure_dirs()
    prepare_instance_env(settings)
    write_instance_yaml(settings.dagster_home)
    ensure_store(settings.mlflow_tracking_uri, settings.mlflow_artifact_root, settings.experiment_name)
    if args.seed_demo and _landing_is_empty(settings):
        dataset.write_demo_data(settings.landing_dir, DEMO_DAYS, DEMO_ROWS, "parquet")
        print(f"seeded {DEMO_DAYS} days of demo data into {settings.landing_dir}")
    print(f"ML_ASSETS_HOME={settings.home} ready (MLflow: {settings.mlflow_tracking_uri})")
    return 0


INSTANCE_YAML = """\
# Written by `ml-assets init` for the embedded instance; deploy/dagster.yaml is the production one.
telemetry:
  enabled: false
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
run_retries:
  enabled: true
  max_retries: 0
auto_materialize:
  enabled: true
  minimum_interval_seconds: 30
"""


def write_instance_yaml(dagster_home: Path) -> None:
    target = dagster_home / "dagster.yaml"
    if not target.exists():
        target.write_text(INSTANCE_YAML)


def cmd_dev(args: argparse.Namespace) -> int:
    """Initialise, seed demo data if the landing zone is empty, and exec `dagster dev`."""
    import os
    import shutil

    from ml_assets.settings import REPO_ROOT

    cmd_init(argparse.Namespace(seed_demo=True))
    settings = get_settings()
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    dagster = shutil.which("dagster") or str(Path(sys.executable).with_name("dagster"))
    os.chdir(REPO_ROOT)
    argv = [dagster, "dev", "-h", args.host, "-p", str(args.port), "-w", str(REPO_ROOT / "workspace.yaml")]
    print(f"starting the Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={settings.dagster_home})")
    sys.stdout.flush()
    os.execv(dagster, argv)
    return 0  # not reached


def cmd_run(args: argparse.Namespace) -> int:
    from ml_assets import dataset
    from ml_assets.resources.mlflow import ensure_store
    from ml_assets.runner import format_summary, materialize_everything, prepare_instance_env

    settings = get_settings()
    if _landing_is_empty(settings):
        if args.no_seed:
            from ml_assets.lib import ingest

            ingest.list_landed_files(settings.landing_dir)  # raises the precise error if missing
            raise MLAssetsError(f"landing zone {settings.landing_dir} is empty: drop batch files or drop --no-seed")
        print(
            f"landing zone empty: seeding {args.seed_days} days x {args.seed_rows} rows of demo data", file=sys.stderr
        )
        dataset.write_demo_data(settings.landing_dir, args.seed_days, args.seed_rows, "parquet")
    settings.ensure_dirs()
    prepare_instance_env(settings)
    write_instance_yaml(settings.dagster_home)
    # once, before any run fans out: concurrent first use of a fresh SQLite store races
    ensure_store(settings.mlflow_tracking_uri, settings.mlflow_artifact_root, settings.experiment_name)
    rows = materialize_everything(settings, jobs=args.jobs)
    print(format_summary(rows))
    bad = [r for r in rows if r.status != "SUCCESS"]
    if bad:
        print(f"\n{len(bad)} of {len(rows)} run(s) did not succeed; open the Dagster UI for details", file=sys.stderr)
        return 1
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    import uuid

    from mlflow import MlflowClient

    from ml_assets.lib import registry
    from ml_assets.resources.mlflow import ensure_store

    settings = get_settings()
    ensure_store(settings.mlflow_tracking_uri, settings.mlflow_artifact_root, settings.experiment_name)
    client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)
    registry.ensure_registered_model_exists(client, settings.model_name)
    event = registry.rollback(
        client,
        settings.mlflow_tracking_uri,
        settings.model_name,
        reason=args.reason,
        run_id=f"cli-{uuid.uuid4().hex[:12]}",
        from_version=args.from_version,
    )
    if event.get("noop"):
        print(f"nothing to do: champion is already version {event['to_version']}")
    else:
        print(f"champion: version {event['from_version']} -> version {event['to_version']}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ml_assets.serving.__main__ import main as serve_main

    settings = get_settings()
    argv = ["--host", args.host or settings.serving_host, "--port", str(args.port or settings.serving_port)]
    return serve_main(argv)


def cmd_chaos(args: argparse.Namespace) -> int:
    from ml_assets import chaos
    from ml_assets.runner import prepare_instance_env

    settings = get_settings()
    prepare_instance_env(settings)
    print(chaos.run(args.scenario, settings))
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    settings = get_settings()
    values = {
        "ML_ASSETS_HOME": settings.home,
        "ML_ASSETS_LANDING_DIR": settings.landing_dir,
        "ML_ASSETS_WAREHOUSE_DIR": settings.warehouse_dir,
        "ML_ASSETS_QUARANTINE_DIR": settings.quarantine_dir,
        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "ML_ASSETS_MLFLOW_ARTIFACT_ROOT": settings.mlflow_artifact_root,
        "ML_ASSETS_EXPERIMENT": settings.experiment_name,
        "ML_ASSETS_MODEL_NAME": settings.model_name,
        "DAGSTER_HOME": settings.dagster_home,
        "ML_ASSETS_TRAINING_WINDOW_DAYS": settings.training_window_days,
        "ML_ASSETS_QUARANTINE_TOLERANCE": settings.quarantine_tolerance,
        "ML_ASSETS_SERVING_HOST": settings.serving_host,
        "ML_ASSETS_SERVING_PORT": settings.serving_port,
        "ML_ASSETS_HEALTH_INTERVAL_SECONDS": settings.health_interval_seconds,
        "ML_ASSETS_HEALTH_FAILURES": settings.health_failures,
        "ML_ASSETS_REDEPLOY_LIMIT": settings.redeploy_limit,
        "ML_ASSETS_LANDING_INTERVAL_SECONDS": settings.landing_interval_seconds,
        "ML_ASSETS_AUTOMATION_INTERVAL_SECONDS": settings.automation_interval_seconds,
        "ML_ASSETS_RETRAIN_CRON": settings.retrain_cron,
        "ML_ASSETS_EXECUTOR": settings.executor,
        "ML_ASSETS_CELERY_BROKER": settings.celery_broker,
        "ML_ASSETS_CELERY_BACKEND": settings.celery_backend,
        "ML_ASSETS_ALERT_WEBHOOK": settings.alert_webhook or "",
        "ML_ASSETS_AUTOMATION": "on" if settings.automation else "off",
    }
    for name, default, description in ENV_VARS:
        if args.markdown:
            print(f"| `{name}` | `{default}` | {description} |")
        else:
            print(f"{name}={values[name]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ml-assets", description="ml-assets: the ML asset platform on Dagster.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo-data", help="write deterministic daily churn batches into the landing zone")
    p.add_argument("--days", type=int, default=DEMO_DAYS)
    p.add_argument("--rows-per-day", type=int, default=DEMO_ROWS)
    p.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    p.add_argument("--end-date", help="last day to write, YYYY-MM-DD (default: yesterday, UTC)")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("init", help="create ML_ASSETS_HOME, the MLflow schema and (optionally) demo data")
    p.add_argument("--seed-demo", action="store_true", help="seed demo data if the landing zone is empty")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("dev", help="initialise, seed demo data if needed, and start `dagster dev`")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("run", help="materialize every landed day and everything downstream, headless")
    p.add_argument("--no-seed", action="store_true", help="fail instead of seeding demo data into an empty zone")
    p.add_argument("--seed-days", type=int, default=DEMO_DAYS, help="days of demo data to seed an empty zone with")
    p.add_argument("--seed-rows", type=int, default=DEMO_ROWS, help="rows per seeded day")
    p.add_argument("--jobs", type=int, default=2, help="days to ingest side by side (default 2: this machine's cores)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("serve", help="serve the current champion over HTTP (MLflow scoring protocol), foreground")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("rollback", help="re-point the champion alias at the previous good version")
    p.add_argument("--from-version", help="only roll back if this version is champion (idempotent retries)")
    p.add_argument("--reason", default="manual rollback (ml-assets rollback)")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("chaos", help="reproduce a seed failure against the running platform")
    p.add_argument("scenario", choices=("bad-data", "leakage", "train-failure", "serving-down"))
    p.set_defaults(func=cmd_chaos)

    p = sub.add_parser("settings", help="print every setting and its current value")
    p.add_argument("--markdown", action="store_true", help="print the README's settings table")
    p.set_defaults(func=cmd_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MLAssetsError as exc:
        print(f"ml-assets: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # bad settings or arguments, unwritable directories
        print(f"ml-assets: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
