"""Classification metrics for the training and evaluation commands, and a confusion-matrix plot.

The metrics are local `evaluate` modules shipped inside the package (``evaluate_modules/<name>/<name>.py`` beside
this file), loaded by path so that nothing reaches the Hugging Face hub: ``evaluate.load("accuracy")`` would. They
use numpy only.

`evaluate` and `matplotlib` are imported inside the functions, so ``import avemo.evaluation.metrics`` stays cheap.
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Sequence

import numpy as np

METRICS_DIR = pathlib.Path(__file__).resolve().parent / "evaluate_modules"
METRIC_NAMES = ("accuracy", "uar", "macro_f1", "confusion_matrix")


@functools.lru_cache(maxsize=None)
def load_metric(name: str):
    """The local `evaluate` module ``name`` (one of `METRIC_NAMES`), loaded by path, offline, and cached.

    The module is loaded with ``keep_in_memory=True`` so that ``compute`` writes no cache files. The same
    instance is returned on every call: use ``compute(predictions=..., references=...)``, which holds no state
    between calls, rather than ``add_batch`` from several places at once.
    """
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; avemo's metrics are: {', '.join(METRIC_NAMES)}")
    import evaluate

    return evaluate.load(str(METRICS_DIR / name), keep_in_memory=True)


def _class_ids(values, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"{what} must be a 1-D sequence of class ids, got shape {array.shape}"
            + (" (take logits.argmax(-1) first)" if array.ndim == 2 else "")
        )
    if array.size and not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_)):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array) & (array == np.round(array))):
            raise ValueError(f"{what} must hold integer class ids, got dtype {array.dtype}")
    return array.astype(np.int64)


def classification_metrics(predictions, references, num_labels: int) -> dict:
    """Accuracy, unweighted average recall, macro F1 and the confusion matrix, through the local modules.

    ``predictions`` and ``references`` are class ids in ``[0, num_labels)`` (int sequences or numpy arrays).
    UAR and macro F1 average over ``range(num_labels)``: classes without reference samples are left out of UAR;
    for macro F1 a class that is predicted but absent from the references counts with F1 = 0, and a class with
    neither predictions nor references is left out. Returns ``{"accuracy": float, "uar": float,
    "macro_f1": float, "confusion_matrix": list[list[int]]}`` (rows = true, columns = predicted).
    Raises ValueError for empty inputs, mismatched lengths or class ids outside ``[0, num_labels)``.
    """
    if isinstance(num_labels, bool) or not isinstance(num_labels, (int, np.integer)) or num_labels < 1:
        raise ValueError(f"num_labels must be a positive int, got {num_labels!r}")
    num_labels = int(num_labels)
    predictions = _class_ids(predictions, "predictions")
    references = _class_ids(references, "references")
    if predictions.size == 0 or references.size == 0:
        raise ValueError("classification_metrics needs at least one prediction and one reference; got empty inputs")
    if predictions.shape != references.shape:
        raise ValueError(
            "classification_metrics needs as many predictions as references; "
            f"got {predictions.size} and {references.size}"
        )
    # The confusion matrix checks the class ids' range: compute it first so that a bad id fails before the rest.
    matrix = load_metric("confusion_matrix").compute(
        predictions=predictions, references=references, num_labels=num_labels
    )["confusion_matrix"]
    labels = list(range(num_labels))
    return {
        "accuracy": float(load_metric("accuracy").compute(predictions=predictions, references=references)["accuracy"]),
        "uar": float(load_metric("uar").compute(predictions=predictions, references=references, labels=labels)["uar"]),
        "macro_f1": float(
            load_metric("macro_f1").compute(predictions=predictions, references=references, labels=labels)["macro_f1"]
        ),
        "confusion_matrix": matrix,
    }


def _checked_counts(matrix, labels) -> tuple[np.ndarray, list[str]]:
    """The matrix as float64 counts and the labels as strings; a ValueError says what does not fit (a matrix that is
    not square, a label count that differs from its side, negative or non-finite counts)."""
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(
            f"matrix must be square and non-empty (rows = true, columns = predicted), got shape {counts.shape}"
        )
    labels = [str(label) for label in labels]
    if len(labels) != counts.shape[0]:
        raise ValueError(f"got {len(labels)} label names for a {counts.shape[0]} x {counts.shape[1]} matrix")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("matrix must hold non-negative finite counts")
    return counts.astype(np.float64), labels


def plot_confusion_matrix(
    matrix,
    labels: Sequence[str],
    path,
    title: str | None = None,
    normalize: bool = True,
) -> pathlib.Path:
    """Write a confusion-matrix heat map as a 150 dpi PNG at ``path`` (parent folders are created); return the path.

    Rows are true labels, columns predicted labels. With ``normalize`` the colours show each row's share
    (recall on the diagonal; a row without samples shows 0), otherwise the counts; each cell is written with its
    raw count. Uses matplotlib's Agg canvas directly (no pyplot, no global backend switch).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    counts, labels = _checked_counts(matrix, labels)
    if normalize:
        row_sums = counts.sum(axis=1, keepdims=True)
        shown = np.divide(counts, row_sums, out=np.zeros_like(counts), where=row_sums > 0)
        vmax, bar_label = 1.0, "share of the true label (recall on the diagonal)"
    else:
        shown = counts
        vmax, bar_label = max(float(counts.max(initial=0.0)), 1.0), "count"

    n = len(labels)
    side = max(4.0, 0.6 * n + 2.5)
    figure = Figure(figsize=(side + 1.0, side))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(shown, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    colorbar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    colorbar.set_label(bar_label)
    if not normalize:
        colorbar.locator = MaxNLocator(integer=True)
        colorbar.update_ticks()

    axes.set_xticks(np.arange(n), labels=labels, rotation=45, ha="right", rotation_mode="anchor")
    axes.set_yticks(np.arange(n), labels=labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if title:
        axes.set_title(title)

    for row in range(n):
        for column in range(n):
            colour = "white" if shown[row, column] > 0.5 * vmax else "black"
            count = f"{int(round(counts[row, column]))}"
            axes.text(column, row, count, ha="center", va="center", fontsize=9, color=colour)

    figure.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150, format="png")
    return path
