"""Model training and evaluation. Plain scikit-learn, no Dagster, no MLflow."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ml_assets import dataset
from ml_assets.errors import TrainingFailed

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class TrainParams:
    max_iter: int = 150
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    l2_regularization: float = 0.0
    holdout_fraction: float = 0.2
    random_state: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def holdout_mask(ids: pd.Series, fraction: float) -> np.ndarray:
    """Deterministic train/holdout split by a hash of the id: a row's side never changes when
    new days arrive, so the holdout of one model is comparable with the next one's."""
    import numpy as np

    h = (ids.to_numpy(dtype="uint64") * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    return (h % np.uint64(10_000)) < np.uint64(int(fraction * 10_000))


def split(df: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    mask = holdout_mask(df[dataset.ID], fraction)
    return df.loc[~mask], df.loc[mask]


def features_of(df: pd.DataFrame) -> pd.DataFrame:
    return df.loc[:, list(dataset.FEATURES)]


def build_pipeline(params: TrainParams) -> Pipeline:
    """Imputation, encoding and the classifier in one Pipeline: fit once, served as is."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    categorical = make_pipeline(
        # missing categories may arrive as NaN (pandas) or None (JSON, Parquet): impute both
        SimpleImputer(missing_values=np.nan, strategy="constant", fill_value="missing"),
        SimpleImputer(missing_values=None, strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32),
    )
    numeric = SimpleImputer(strategy="median", add_indicator=True)
    pre = ColumnTransformer(
        [("num", numeric, list(dataset.NUMERIC_FEATURES)), ("cat", categorical, list(dataset.CATEGORICAL_FEATURES))],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    clf = HistGradientBoostingClassifier(
        max_iter=params.max_iter,
        learning_rate=params.learning_rate,
        max_leaf_nodes=params.max_leaf_nodes,
        l2_regularization=params.l2_regularization,
        early_stopping=False,
        random_state=params.random_state,
    )
    return Pipeline([("preprocess", pre), ("classifier", clf)])


def check_predictions(proba: np.ndarray, where: str) -> None:
    """A model whose scores are NaN or all the same is broken, however it was trained."""
    import numpy as np

    if proba.size == 0:
        raise TrainingFailed(f"{where}: model produced no predictions")
    if not np.all(np.isfinite(proba)):
        raise TrainingFailed(f"{where}: model produced {int((~np.isfinite(proba)).sum())} NaN/Inf scores")
    if np.ptp(proba) < 1e-9:
        raise TrainingFailed(f"{where}: model produces a constant score ({float(proba[0]):.4f}) for every row")


def classification_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Holdout metrics for a positive-class score."""
    import numpy as np
    from sklearn.metrics import f1_score, log_loss, precision_score, recall_score, roc_auc_score

    pred = (proba >= 0.5).astype(int)
    bins = np.minimum((proba * 10).astype(int), 9)
    ece = 0.0
    for b in range(10):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(proba[in_bin].mean() - y_true[in_bin].mean())
    return {
        "roc_auc": float(roc_auc_score(y_true, proba)) if len(np.unique(y_true)) > 1 else float("nan"),
        "log_loss": float(log_loss(y_true, np.clip(proba, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "precision": float(precision_score(y_true, pred, zero_division=0)),
        "recall": float(recall_score(y_true, pred, zero_division=0)),
        "f1": float(f1_score(y_true, pred, zero_division=0)),
        "accuracy": float((pred == y_true).mean()),
        "calibration_error": float(ece),
        "positive_rate": float(y_true.mean()),
    }


@dataclass
class TrainResult:
    pipeline: Pipeline
    metrics: dict[str, float]
    train_rows: int
    holdout_rows: int
    data_hash: str


def data_hash(df: pd.DataFrame) -> str:
    import pandas as pd

    return hashlib.sha256(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes()).hexdigest()[:16]


def train_model(df: pd.DataFrame, params: TrainParams) -> TrainResult:
    """Fit the pipeline on the training side of ``df`` and score it on the holdout side."""
    if dataset.LABEL not in df.columns:
        raise TrainingFailed(f"training data has no label column {dataset.LABEL!r}")
    train, holdout = split(df, params.holdout_fraction)
    if len(train) < 50 or len(holdout) < 20:
        raise TrainingFailed(
            f"too little data to train: {len(train)} training and {len(holdout)} holdout rows; land more days"
        )
    if train[dataset.LABEL].nunique() < 2:
        raise TrainingFailed(f"training data has a single class in {dataset.LABEL!r}: cannot learn")
    pipeline = build_pipeline(params)
    pipeline.fit(features_of(train), train[dataset.LABEL].to_numpy())
    proba = pipeline.predict_proba(features_of(holdout))[:, 1]
    check_predictions(proba, "holdout")
    return TrainResult(
        pipeline=pipeline,
        metrics=classification_metrics(holdout[dataset.LABEL].to_numpy(), proba),
        train_rows=len(train),
        holdout_rows=len(holdout),
        data_hash=data_hash(df),
    )


def holdout_scores(model: Any, holdout: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Labels and positive-class scores of ``model`` on ``holdout`` (checked for NaN/constant)."""
    proba = model.predict_proba(features_of(holdout))[:, 1]
    check_predictions(proba, "evaluation")
    return holdout[dataset.LABEL].to_numpy(), proba


def evaluate(model: Any, holdout: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Metrics of ``model`` on ``holdout`` next to a prior-predicting dummy baseline."""
    return evaluate_scores(*holdout_scores(model, holdout))


def evaluate_scores(y: np.ndarray, proba: np.ndarray) -> dict[str, dict[str, float]]:
    import numpy as np
    from sklearn.dummy import DummyClassifier

    dummy = DummyClassifier(strategy="prior").fit(np.zeros((len(y), 1)), y)
    baseline = dummy.predict_proba(np.zeros((len(y), 1)))[:, 1]
    return {"metrics": classification_metrics(y, proba), "baseline": classification_metrics(y, baseline)}


def evaluation_plots(y: np.ndarray, proba: np.ndarray) -> dict[str, bytes]:
    """ROC curve, confusion matrix and calibration curve as small PNGs."""
    import io

    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

    plots: dict[str, bytes] = {}

    def render(name: str, fig: Any) -> None:
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=80)
        plt.close(fig)
        plots[name] = buf.getvalue()

    fig, ax = plt.subplots(figsize=(4, 4))
    fpr, tpr, _ = roc_curve(y, proba)
    ax.plot(fpr, tpr, label=f"model (AUC {roc_auc_score(y, proba):.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    ax.legend(loc="lower right")
    render("roc_curve", fig)

    fig, ax = plt.subplots(figsize=(4, 3.6))
    cm = confusion_matrix(y, (proba >= 0.5).astype(int), labels=[0, 1])
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, f"{v:,}", ha="center", va="center", color="black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual", title="Confusion matrix (0.5)")
    render("confusion_matrix", fig)

    fig, ax = plt.subplots(figsize=(4, 4))
    true_rate, predicted = calibration_curve(y, proba, n_bins=10, strategy="quantile")
    ax.plot(predicted, true_rate, "o-", label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.set(xlabel="predicted probability", ylabel="observed rate", title="Calibration")
    ax.legend(loc="upper left")
    render("calibration_curve", fig)
    return plots
