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


class EnsembleError(ValueError):
    """Models that cannot be averaged (different label sets, bad weights)."""


def check_weights(weights, count: int) -> list[float]:
    """Weights normalised to sum to 1 (equal when None)."""
    if weights is None:
        return [1.0 / count] * count
    weights = [float(weight) for weight in weights]
    if len(weights) != count or any(weight < 0 for weight in weights) or sum(weights) <= 0:
        raise EnsembleError(f"give one non-negative weight per model ({count}), not all zero; got {weights}")
    return [weight / sum(weights) for weight in weights]


def label_orders(label_sets: list[list[str]], names: list[str]) -> list[list[int]]:
    """For each model, the index of each of the first model's labels among its own."""
    first = label_sets[0]
    orders = []
    for labels, name in zip(label_sets, names):
        if sorted(labels) != sorted(first):
            raise EnsembleError(
                f"{name} predicts {labels} but {names[0]} predicts {first}: an ensemble averages one label set "
                "(relabel the models to the same labels first)"
            )
        orders.append([labels.index(label) for label in first])
    return orders


class EnsemblePredictor:
    """The weighted mean of several models' probabilities, with the interface of `Predictor`."""

    def __init__(self, models, weights=None, device: str | None = None, num_frames: int | None = None):
        models = list(models)
        if not models:
            raise EnsembleError("an ensemble needs at least one model")
        self.members = [Predictor(model, device=device, num_frames=num_frames) for model in models]
        self.names = [str(model) for model in models]
        self.weights = check_weights(weights, len(models))
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
        import torch

        clips, combined, first_clip = dict(clips or {}), torch.zeros(len(self.labels)), None
        warnings = list(self.load_warnings)
        for member, order, weight in zip(self.members, self.orders, self.weights):
            key = member.processor.to_json_string()
            if key not in clips:  # decoded and aligned once per distinct way of preparing the inputs
                clips[key] = member.processor.process_video(path)
            warnings += [warning for warning in clips[key].warnings if warning not in warnings]
            clip = clips[key]
            first_clip = first_clip or clip
            combined += weight * member.probabilities(clip)[order]
        scores = {label: round(float(p), 6) for label, p in zip(self.labels, combined)}
        return Prediction(
            file=str(path),
            label=self.labels[int(combined.argmax())],
            scores=scores,
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
