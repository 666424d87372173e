"""Prediction on video files: what `avemo predict` runs, as a Python API.

    from avemo.inference import Predictor
    predictor = Predictor("my-model")           # a model folder or a hub id
    result = predictor.predict_file("clip.mp4")
    result.label, result.scores, result.warnings
"""

from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path

UNTRAINED_WARNING = "the model is untrained (made without trained weights): its scores mean nothing yet"


class ModelLoadError(ValueError):
    """A model folder or hub id cannot be loaded."""


@dataclass
class Prediction:
    """The result for one file (the JSON object of `avemo predict --json`)."""

    file: str
    label: str
    scores: dict[str, float]  # label -> probability, in the model's label order
    frames_used: int  # sampled frames in which a face was found
    frames_sampled: int
    audio_used: bool
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class Predictor:
    """A model and its processor, loaded once, for many files."""

    def __init__(self, model: str | PathLike, device: str | None = None, num_frames: int | None = None):
        import torch

        from avemo.processing import AVEmoProcessor
        from modeling_avemo import AVEmoForVideoClassification

        from .model_folder import processor_for

        source = str(model)
        try:
            self.model = AVEmoForVideoClassification.from_pretrained(source)
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"{source}: cannot load an avemo model ({_first_line(error)})") from error
        self.load_warnings = []
        if Path(source, "processor_config.json").is_file() or not Path(source).is_dir():
            try:
                self.processor = AVEmoProcessor.from_pretrained(source)
            except (OSError, ValueError) as error:
                raise ModelLoadError(f"{source}: cannot load its processor ({_first_line(error)})") from error
        else:
            self.processor = processor_for(self.model.config)
            self.load_warnings.append("the model folder has no processor_config.json: default processing used")
        if num_frames is not None:
            self.processor.num_frames = num_frames
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device).eval()
        if self.device.type == "cpu":
            # oneDNN runs the CNNs faster on NHWC tensors.
            self.model.to(memory_format=torch.channels_last)
        config = self.model.config
        if self.processor.face_size != config.face_size:
            raise ModelLoadError(
                f"{source}: processor face_size={self.processor.face_size} does not match the model's {config.face_size}"
            )
        if not config.trained:
            self.load_warnings.append(UNTRAINED_WARNING)

    @property
    def labels(self) -> list[str]:
        config = self.model.config
        return [config.id2label[index] for index in range(config.num_labels)]

    def predict_clip(self, clip) -> Prediction:
        """Scores of one `ProcessedClip` (from `processor.process_video` or `process_frames`)."""
        import torch

        inputs = self.processor.batch([clip], return_tensors="pt").to(self.device)
        with torch.inference_mode():
            probabilities = self.model(**inputs).logits.float().softmax(-1)[0].cpu()
        scores = {label: round(float(p), 6) for label, p in zip(self.labels, probabilities)}
        return Prediction(
            file=clip.source,
            label=self.labels[int(probabilities.argmax())],
            scores=scores,
            frames_used=clip.frames_used,
            frames_sampled=clip.frames_sampled,
            audio_used=clip.has_audio and self.processor.uses_audio,
            warnings=self.load_warnings + clip.warnings,
        )

    def predict_file(self, path: str | PathLike) -> Prediction:
        """Decode, align, featurise and classify one video file (raises MediaError / NothingToPredictError)."""
        return self.predict_clip(self.processor.process_video(path))


def predict(videos, model: str | PathLike, device: str | None = None, num_frames: int | None = None) -> list[Prediction]:
    """Predictions for one or several video files with the model folder or hub id `model`."""
    videos = [videos] if isinstance(videos, (str, PathLike)) else list(videos)
    predictor = Predictor(model, device=device, num_frames=num_frames)
    return [predictor.predict_file(path) for path in videos]


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
