"""Prediction: a model and its processor on files (`predictor`), several models averaged (`ensemble`), emotions over
time in long videos (`timeline`), videos drawn with each person's label (`annotate`), the face-identity descriptor
that follows people (`identity`), and the scores every one of them reports (`scores`).

    from avemo.inference import predict
    [result] = predict("clip.mp4")             # avemo's shipped model; model="runs/ravdess/best" for yours
    result.label, result.scores, result.warnings
"""

from avemo.inference.ensemble import EnsembleError, EnsemblePredictor
from avemo.inference.predictor import PersonPrediction, Prediction, Predictor, predict
from avemo.model_folders.loading import ModelLoadError

__all__ = [
    "predict",
    "Predictor",
    "Prediction",
    "PersonPrediction",
    "ModelLoadError",
    "EnsemblePredictor",
    "EnsembleError",
]
