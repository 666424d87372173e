# Local `evaluate` metric module for avemo: macro-averaged F1.
# Load it by path, offline: evaluate.load("<path>/avemo/evaluation/evaluate_modules/macro_f1").
# evaluate scans this file's import lines and imports each named module: keep one module per import line.
import numpy as np
import evaluate
import datasets


_DESCRIPTION = """
Macro F1: the mean over classes of each class's F1 = 2 * precision * recall / (precision + recall), every class
weighted the same. Classes averaged over: `labels` when given, else the classes present in the references;
a class with neither predictions nor references is left out of the mean; a class whose precision or recall is
undefined (no predictions, or no references) counts with F1 = 0.
Computed with numpy only, so it works without scikit-learn and without the Hugging Face hub.
"""

_CITATION = ""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted class ids.
    references (`list` of `int`): true class ids, as many as predictions.
    labels (`list` of `int`, optional): the classes to average over; default: the classes in references.
        Classes in it with neither predictions nor references are left out of the mean.
Returns:
    macro_f1 (`float`): macro-averaged F1, in [0, 1].
Raises:
    ValueError: when the inputs are empty, their lengths differ, or no class is left to average over.
Examples:
    >>> metric = evaluate.load("avemo/evaluation/evaluate_modules/macro_f1")
    >>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0])
    {'macro_f1': 0.6666666666666666}
"""


def _as_int_arrays(predictions, references):
    predictions = np.asarray(predictions).reshape(-1)
    references = np.asarray(references).reshape(-1)
    if predictions.size == 0 or references.size == 0:
        raise ValueError("macro_f1 needs at least one prediction and one reference; got empty inputs")
    if predictions.shape != references.shape:
        raise ValueError(
            f"macro_f1 needs as many predictions as references; got {predictions.size} and {references.size}"
        )
    return predictions.astype(np.int64), references.astype(np.int64)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MacroF1(evaluate.Metric):
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
        scores = []
        for cls in classes:
            predicted = predictions == cls
            actual = references == cls
            n_predicted = int(predicted.sum())
            n_actual = int(actual.sum())
            if n_predicted == 0 and n_actual == 0:
                continue
            true_positives = int((predicted & actual).sum())
            if n_predicted == 0 or n_actual == 0 or true_positives == 0:
                scores.append(0.0)
                continue
            precision = true_positives / n_predicted
            recall = true_positives / n_actual
            scores.append(2 * precision * recall / (precision + recall))
        if not scores:
            raise ValueError(
                f"macro_f1: none of the labels {classes.tolist()} occurs in the predictions or the references"
            )
        return {"macro_f1": float(np.mean(scores))}
