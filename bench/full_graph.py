"""Full-graph materialization at 1,000,000 rows vs a plain-Python script (issue 2, goal <= 1.25x).

- ml-assets: `ml-assets run` (a subprocess, on a fresh ML_ASSETS_HOME): Dagster runs per landed
  day and one training run, Parquet storage, every check, MLflow logging and registration.
- plain script: the same plain functions (ingest, clean, train, evaluate) and the same MLflow
  calls, in one process with everything in memory, no Dagster and no checks.
Both start from the same landed files (5 days x 200,000 rows).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date

from common import ROOT, WORK, report, side_by_side

DAYS = 5
ROWS_PER_DAY = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
END = date(2026, 11, 30)

PLAIN = r"""
import sys, pandas as pd, mlflow
from mlflow.models import infer_signature
from ml_assets.settings import get_settings
from ml_assets.lib import ingest, features, training, registry
from ml_assets.resources.mlflow import ensure_store, SKOPS_TRUSTED_TYPES
s = get_settings()
ensure_store(s.mlflow_tracking_uri, s.mlflow_artifact_root, s.experiment_name)
mlflow.set_tracking_uri(s.mlflow_tracking_uri)
exp = mlflow.get_experiment_by_name(s.experiment_name)
tables = []
for day, files in sorted(ingest.list_landed_files(s.landing_dir).items()):
    tables.append(features.clean_features(ingest.ingest_partition(files, day).clean))
df = pd.concat(tables, ignore_index=True)
params = training.TrainParams()
result = training.train_model(df, params)
example = training.features_of(df.head(5))
with mlflow.start_run(experiment_id=exp.experiment_id) as run:
    mlflow.log_params(params.as_dict())
    mlflow.log_metrics({f"holdout_{k}": v for k, v in result.metrics.items()})
    info = mlflow.sklearn.log_model(result.pipeline, name="model", input_example=example,
        signature=infer_signature(example, result.pipeline.predict_proba(example)),
        pyfunc_predict_fn="predict_proba", skops_trusted_types=SKOPS_TRUSTED_TYPES)
model = mlflow.sklearn.load_model(info.model_uri)
_, holdout = training.split(df, params.holdout_fraction)
training.evaluate(model, holdout)
client = mlflow.MlflowClient()
mv = mlflow.register_model(info.model_uri, s.model_name)
client.set_registered_model_alias(s.model_name, "champion", mv.version)
"""


def fresh_home(name: str) -> dict[str, str]:
    home = WORK / name
    landing = WORK / "landing"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_ASSETS", "MLFLOW", "DAGSTER"))}
    env.update(ML_ASSETS_HOME=str(home), ML_ASSETS_LANDING_DIR=str(landing))
    return env


def ours() -> None:
    subprocess.run(
        [sys.executable, "-m", "ml_assets.cli", "run", "--no-seed"],
        env=fresh_home("ours"),
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def plain() -> None:
    subprocess.run(
        [sys.executable, "-c", PLAIN],
        env=fresh_home("plain"),
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> str:
    from ml_assets import dataset

    landing = WORK / "landing"
    shutil.rmtree(landing, ignore_errors=True)
    dataset.write_demo_data(landing, DAYS, ROWS_PER_DAY, "parquet", end_date=END)
    times = side_by_side({"plain script": plain, "ml-assets run": ours}, REPEATS)
    return report(f"Full graph, {DAYS * ROWS_PER_DAY:,} rows ({DAYS} days)", times, "plain script")


if __name__ == "__main__":
    print(main())
