"""Evaluation: accuracy, UAR, macro F1 and the confusion matrix through local `evaluate` modules (`metrics`, the
modules in `evaluate_modules/`), and `avemo evaluate`, a model (or an ensemble) on a corpus folder (`evaluate`)."""
