"""A baseline that proves the training sets are usable: predict ``accepted`` on a snapshot of tailoring_examples.

    python -m tools.train_baseline [--version VERSION] [--training-dir DIR]

Reads one snapshot version (default: the latest) of ``tailoring_examples`` from the training dir that
``ANALYTICS_TRAINING_DIR`` names (default ``data/training``), the Parquet files only, so it runs while
the pipeline holds DuckDB's write lock. Keeps the rows whose label window has closed (final labels:
a False may not turn True any more), fits a logistic regression on the train split over the output's
scores, version, refinement flag and tailoring mode, picks its regularization on the validation split,
and prints validation and test metrics beside a base-rate baseline (always the train split's rate of
``accepted``; accuracy of the majority class) in the same run, so the numbers mean something. The last
line, ``TEST ...``, is for scripts. Needs scikit-learn: ``pip install -e '.[baseline]'``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from analytics_pipeline.training import load_training_set, read_card
from analytics_pipeline.training.snapshot import training_dir

SET = "tailoring_examples"
TARGET = "accepted"
NUMERIC = ["ats_score", "jd_score", "version"]
CATEGORICAL = ["tailoring_mode", "is_refinement"]
C_GRID = (0.01, 0.1, 1.0, 10.0)  # inverse regularization strengths tried; the best on validation wins


class BaselineError(Exception):
    """The snapshot cannot train a baseline (missing, too small, a single class)."""


def model(c: float):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    # Scores are optional in the event contract: a missing one is imputed and flagged, not dropped.
    features = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    return make_pipeline(features, LogisticRegression(C=c, max_iter=1000))


def metrics(y: np.ndarray, probability: np.ndarray) -> dict[str, float | None]:
    """AUC (None with a single class), log loss and accuracy at 0.5."""
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    probability = np.clip(probability, 1e-6, 1 - 1e-6)
    return {
        "auc": roc_auc_score(y, probability) if len(set(y)) == 2 else None,
        "log_loss": log_loss(y, probability, labels=[False, True]),
        "accuracy": accuracy_score(y, probability >= 0.5),
    }


def load_splits(version: str, directory: str | None) -> tuple[dict, dict[str, pd.DataFrame], dict[str, int]]:
    """The card and the final-label rows of each split of one version (pinned, so a rebuild cannot mix two)."""
    try:
        card = read_card(SET, version, directory)
    except FileNotFoundError as error:
        raise BaselineError(str(error)) from None
    frames, totals = {}, {}
    for split in ("train", "validation", "test"):
        frame = load_training_set(SET, split, card["version"], directory)
        totals[split] = len(frame)
        frames[split] = frame[frame["label_window_closed"]]
    return card, frames, totals


def features(frame: pd.DataFrame) -> pd.DataFrame:
    # Categories as text: a missing mode (optional in the contract) becomes its own category, "None".
    return frame[NUMERIC].assign(**{c: frame[c].astype(str) for c in CATEGORICAL})


def train_and_evaluate(frames: dict[str, pd.DataFrame]) -> tuple[float, dict[str, dict]]:
    """Fit on train, choose C on validation, score validation and test; returns (C, split -> metrics)."""
    train = frames["train"]
    if train[TARGET].nunique() < 2 or frames["validation"].empty or frames["test"].empty:
        raise BaselineError(
            "too little data: train needs both classes of accepted and validation and test need rows with final "
            "labels; load more days (e.g. `analytics-pipeline sample --days 30`, then `analytics-pipeline run`)"
        )
    fitted = {c: model(c).fit(features(train), train[TARGET]) for c in C_GRID}

    def predict(c: float, split: str) -> np.ndarray:
        return fitted[c].predict_proba(features(frames[split]))[:, 1]

    validation_y = frames["validation"][TARGET].to_numpy()
    best = min(C_GRID, key=lambda c: metrics(validation_y, predict(c, "validation"))["log_loss"])
    base_rate = train[TARGET].mean()
    results = {}
    for split in ("validation", "test"):
        y = frames[split][TARGET].to_numpy()
        results[split] = {
            "rows": len(y),
            "rate": y.mean(),
            "model": metrics(y, predict(best, split)),
            "baseline": metrics(y, np.full(len(y), base_rate)),
        }
    return best, results


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def report(card: dict, directory: str, totals: dict[str, int], frames: dict, best: float, results: dict) -> None:
    print(
        f"snapshot: {SET} {card['version']} under {directory} (created {card['created_at']}, run {card.get('run_id')})"
    )
    kept = ", ".join(f"{split} {len(frames[split])} of {totals[split]}" for split in totals)
    print(f"rows with final labels (label_window_closed): {kept}")
    window = card.get("config", {}).get("label_window_hours")
    print(f"target: {TARGET} (copied or downloaded within the label window{f' of {window:g} h' if window else ''})")
    print(f"features: {', '.join(NUMERIC + CATEGORICAL)}; logistic regression, C={best:g} chosen on validation")
    print(f"train base rate of {TARGET}: {frames['train'][TARGET].mean():.3f}")
    header = f"{'split':<11}{'rows':>6}{'rate':>7} | {'model: auc':>10}{'log_loss':>9}{'accuracy':>9} |"
    print(header + f" {'base rate: auc':>14}{'log_loss':>9}{'accuracy':>9}")
    for split, r in results.items():
        m, b = r["model"], r["baseline"]
        print(
            f"{split:<11}{r['rows']:>6}{r['rate']:>7.3f} | {_number(m['auc']):>10}{m['log_loss']:>9.3f}"
            f"{m['accuracy']:>9.3f} | {_number(b['auc']):>14}{b['log_loss']:>9.3f}{b['accuracy']:>9.3f}"
        )
    test = results["test"]
    print(
        f"TEST version={card['version']} rows={test['rows']} auc={_number(test['model']['auc'])} "
        f"log_loss={test['model']['log_loss']:.3f} accuracy={test['model']['accuracy']:.3f} "
        f"baseline_log_loss={test['baseline']['log_loss']:.3f} baseline_accuracy={test['baseline']['accuracy']:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="latest", help="snapshot version (default: the latest)")
    parser.add_argument("--training-dir", help="default: $ANALYTICS_TRAINING_DIR or data/training")
    args = parser.parse_args(argv)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("scikit-learn is not installed: pip install -e '.[baseline]' (make setup does)", file=sys.stderr)
        return 1
    try:
        card, frames, totals = load_splits(args.version, args.training_dir)
        best, results = train_and_evaluate(frames)
    except BaselineError as error:
        print(f"cannot train the baseline: {error}", file=sys.stderr)
        return 1
    report(card, str(training_dir(args.training_dir)), totals, frames, best, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
