# Local `evaluate` metric module for avemo: unweighted average recall (UAR, macro recall).
# Load it by path, offline: evaluate.load("<path>/avemo/evaluation/evaluate_modules/uar").
# evaluate scans this file's import lines and imports each named module: keep one module per import line.
import numpy as np
import evaluate
import datasets


_DESCRIPTION = """
Unweighted average recall (UAR): the mean over classes of each class's recall TP / (TP + FN), every class
weighted the same whatever its number of samples (macro-averaged recall, the usual score for unbalanced
emotion data sets). Classes averaged over: `labels` when given, else the classes present in the references;
a class without reference samples has no recall and is left out of the mean.
Computed with numpy only, so it works without scikit-learn and without the Hugging Face hub.
"""

_CITATION = ""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted class ids.
    references (`list` of `int`): true class ids, as many as predictions.
    labels (`list` of `int`, optional): the classes to average over; default: the classes in references.
        Classes in it with no reference sample are left out of the mean.
Returns:
    uar (`float`): unweighted average recall, in [0, 1].
Raises:
    ValueError: when the inputs are empty, their lengths differ, or no class to average over has references.
Examples:
    >>> metric = evaluate.load("avemo/evaluation/evaluate_modules/uar")
    >>> metric.compute(predictions=[0, 0, 0, 0], references=[0, 0, 0, 1])
    {'uar': 0.5}
"""


def _as_int_arrays(predictions, references):
    predictions = np.asarray(predictions).reshape(-1)
    references = np.asarray(references).reshape(-1)
    if predictions.size == 0 or references.size == 0:
        raise ValueError("uar needs at least one prediction and one reference; got empty inputs")
    if predictions.shape != references.shape:
        raise ValueError(f"uar needs as many predictions as references; got {predictions.size} and {references.size}")
    return predictions.astype(np.int64), references.astype(np.int64)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class UAR(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, labels=None):
        predictions, references = _as_int_arrays(predictions, references)
        classes = np.unique(references) if labels is None else np.unique(np.asarray(labels, dtype=np.int64))
        recalls = []
        for cls in classes:
            is_true = references == cls
            support = int(is_true.sum())
            if support == 0:
                continue
            recalls.append(int((predictions[is_true] == cls).sum()) / support)
        if not recalls:
            raise ValueError(f"uar: none of the labels {classes.tolist()} occurs in the references")
        return {"uar": float(np.mean(recalls))}
