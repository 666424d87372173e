# Local `evaluate` metric module for avemo: confusion matrix with a fixed number of classes.
# Load it by path, offline: evaluate.load("<path>/avemo/evaluation/evaluate_modules/confusion_matrix").
# evaluate scans this file's import lines and imports each named module: keep one module per import line.
import numpy as np
import evaluate
import datasets


_DESCRIPTION = """
Confusion matrix: counts[i][j] is the number of samples whose true class is i and predicted class is j
(rows = true labels, columns = predicted labels). Its size is `num_labels` x `num_labels`, so classes absent
from both predictions and references still get their row and column.
Computed with numpy only, so it works without scikit-learn and without the Hugging Face hub.
"""

_CITATION = ""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted class ids, each in [0, num_labels).
    references (`list` of `int`): true class ids, each in [0, num_labels), as many as predictions.
    num_labels (`int`): number of classes; required.
Returns:
    confusion_matrix (`list` of `list` of `int`): num_labels rows (true) of num_labels counts (predicted).
Raises:
    ValueError: when the inputs are empty, their lengths differ, num_labels is missing or not a positive int,
        or a class id lies outside [0, num_labels).
Examples:
    >>> metric = evaluate.load("avemo/evaluation/evaluate_modules/confusion_matrix")
    >>> metric.compute(predictions=[1, 1], references=[0, 1], num_labels=3)
    {'confusion_matrix': [[0, 1, 0], [0, 1, 0], [0, 0, 0]]}
"""


def _as_int_arrays(predictions, references):
    predictions = np.asarray(predictions).reshape(-1)
    references = np.asarray(references).reshape(-1)
    if predictions.size == 0 or references.size == 0:
        raise ValueError("confusion_matrix needs at least one prediction and one reference; got empty inputs")
    if predictions.shape != references.shape:
        raise ValueError(
            f"confusion_matrix needs as many predictions as references; got {predictions.size} and {references.size}"
        )
    return predictions.astype(np.int64), references.astype(np.int64)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ConfusionMatrix(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, num_labels=None):
        if num_labels is None:
            raise ValueError("confusion_matrix needs num_labels, the number of classes (an int)")
        if isinstance(num_labels, bool) or not isinstance(num_labels, (int, np.integer)) or num_labels < 1:
            raise ValueError(f"confusion_matrix: num_labels must be a positive int, got {num_labels!r}")
        num_labels = int(num_labels)
        predictions, references = _as_int_arrays(predictions, references)
        for name, values in (("predictions", predictions), ("references", references)):
            outside = values[(values < 0) | (values >= num_labels)]
            if outside.size:
                raise ValueError(
                    f"confusion_matrix: {name} hold class ids outside [0, {num_labels}): "
                    f"{sorted(set(outside.tolist()))}"
                )
        counts = np.zeros((num_labels, num_labels), dtype=np.int64)
        np.add.at(counts, (references, predictions), 1)
        return {"confusion_matrix": [[int(count) for count in row] for row in counts]}
