# Local `evaluate` metric module for avemo: accuracy (fraction of correct predictions).
# Load it by path, offline: evaluate.load("<path>/avemo/evaluation/evaluate_modules/accuracy").
# evaluate scans this file's import lines and imports each named module: keep one module per import line.
import numpy as np
import evaluate
import datasets


_DESCRIPTION = """
Accuracy: the fraction of predictions equal to their reference, (TP + TN) / N for every class together.
Computed with numpy only, so it works without scikit-learn and without the Hugging Face hub.
"""

_CITATION = ""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted class ids.
    references (`list` of `int`): true class ids, as many as predictions.
Returns:
    accuracy (`float`): fraction of correct predictions, in [0, 1].
Raises:
    ValueError: when the inputs are empty or their lengths differ.
Examples:
    >>> metric = evaluate.load("avemo/evaluation/evaluate_modules/accuracy")
    >>> metric.compute(predictions=[0, 1, 1, 2], references=[0, 1, 2, 2])
    {'accuracy': 0.75}
"""


def _as_int_arrays(predictions, references):
    predictions = np.asarray(predictions).reshape(-1)
    references = np.asarray(references).reshape(-1)
    if predictions.size == 0 or references.size == 0:
        raise ValueError("accuracy needs at least one prediction and one reference; got empty inputs")
    if predictions.shape != references.shape:
        raise ValueError(
            f"accuracy needs as many predictions as references; got {predictions.size} and {references.size}"
        )
    return predictions.astype(np.int64), references.astype(np.int64)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        predictions, references = _as_int_arrays(predictions, references)
        return {"accuracy": float(np.mean(predictions == references))}
