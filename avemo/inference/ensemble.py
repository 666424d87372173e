"""Ensembles: several models on the same clips, their probabilities averaged (the paper's best AFEW result came
from five models).

    from avemo.inference.ensemble import EnsemblePredictor
    ensemble = EnsemblePredictor(["runs/a/best", "runs/b/best", "runs/c/best"], weights=[2, 1, 1])
    ensemble.predict_file("clip.mp4").scores

Members may prepare their inputs differently (each keeps its own processor and face recipe: a clip is decoded and
its faces found once per distinct processor). Their label sets must be the same set of names, in any order: the
ensemble speaks in the first model's order. Different label sets are refused, naming them.
"""

from os import PathLike

from avemo.inference.predictor import Prediction, Predictor
from avemo.inference.scores import (
    EnsembleError,
    label_orders,
    normalised_weights,
    scores_of,
    top_label,
    weighted_mean,
)


class EnsemblePredictor:
    """The weighted mean of several models' probabilities, with the interface of `Predictor`."""

    def __init__(self, models, weights=None, device: str | None = None, num_frames: int | None = None):
        models = list(models)
        if not models:
            raise EnsembleError("an ensemble needs at least one model")
        self.members = [Predictor(model, device=device, num_frames=num_frames) for model in models]
        self.names = [str(model) for model in models]
        self.weights = normalised_weights(weights, len(models))
        self.orders = label_orders([member.labels for member in self.members], self.names)
        self.labels = self.members[0].labels
        self.load_warnings = [
            f"{name}: {warning}" if len(models) > 1 else warning
            for name, member in zip(self.names, self.members)
            for warning in member.load_warnings
        ]
        if len(models) == 1:
            self.notes = list(self.members[0].notes)
        else:
            share = ", ".join(f"{name} ({weight:.2f})" for name, weight in zip(self.names, self.weights))
            self.notes = [f"an ensemble of {len(models)} models, probabilities averaged with weights: {share}"]
            self.notes += [f"{name}: {note}" for name, member in zip(self.names, self.members) for note in member.notes]

    def predict_file(self, path: str | PathLike, clips: dict | None = None) -> Prediction:
        """The ensemble's prediction for one file. `clips`: processed clips of it already at hand, keyed by their
        processor's `to_json_string()` (not decoded again)."""

        clips, probabilities, first_clip = dict(clips or {}), [], None
        warnings = list(self.load_warnings)
        for member in self.members:
            key = member.processor.to_json_string()
            if key not in clips:  # decoded and aligned once per distinct way of preparing the inputs
                clips[key] = member.processor.process_video(path)
            warnings += [warning for warning in clips[key].warnings if warning not in warnings]
            first_clip = first_clip or clips[key]
            probabilities.append(member.probabilities(clips[key]))
        combined = weighted_mean(probabilities, self.orders, self.weights)
        return Prediction(
            file=str(path),
            label=top_label(combined, self.labels),
            scores=scores_of(combined, self.labels),
            frames_used=first_clip.frames_used,
            frames_sampled=first_clip.frames_sampled,
            audio_used=any(clip.has_audio for clip in clips.values())
            and any(m.processor.uses_audio for m in self.members),
            warnings=warnings,
            notes=list(self.notes),
        )

    def predict_files(self, paths, workers: int = 2):
        """Yield `(path, Prediction or the exception it raised)` in order (members run one after the other)."""
        from avemo.processing import MediaError, NothingToPredictError

        for path in paths:
            try:
                yield path, self.predict_file(path)
            except (MediaError, NothingToPredictError, OSError) as error:
                yield path, error
