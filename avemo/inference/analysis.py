"""What avemo's Space shows for one file, computed apart from the page: the prediction (an ensemble's when several
models are given), what each face says on its own, the model's weight of each frame, the log-mel image with the audio
attention over it, every person, and for long uploads a timeline. The Space (space/app.py) only draws it.

    analyser = FileAnalyser("runs/ravdess/best")
    analysis = analyser.analyse("clip.mp4")     # analysis.prediction is what `avemo predict --json` prints
"""

from dataclasses import dataclass, field
from pathlib import Path

from avemo.processing.video_io_avemo import media_duration

# Uploads at least this long also get a timeline: a score every second over 2 s windows (avemo predict --timeline).
TIMELINE_FROM_SECONDS = 10.0


class InputRejected(ValueError):
    """A file the analyser will not take (too long, too large, nothing to analyse); the message says why."""


@dataclass
class Analysis:
    """Everything one request shows (built per request; nothing is shared between requests)."""

    prediction: dict
    frame_times: list[float]  # every sampled frame
    face_times: list[float]  # frames with a face
    crops: list  # RGB uint8 arrays, one per face
    per_frame: list[list[float]]  # per face: probability of each label from that face alone
    visual_weights: list[float] | None  # the model's weight of each face in the clip's score
    log_mel: object | None  # (mel, time) array when the model used audio
    audio_weights: object | None  # (H, W) attention over the audio map
    hop_seconds: float = 0.01
    labels: list[str] = field(default_factory=list)
    timeline: list | None = None  # TimelineWindow rows for long uploads, else None
    persons: list = field(default_factory=list)  # PersonPrediction of every person, largest screen time first
    person_crops: dict = field(default_factory=dict)  # person id -> the largest face crop the model read of them


class FileAnalyser:
    """A model (or, given several, an ensemble whose mean is the answer and whose first model the plots show), loaded
    once; `analyse(path)` is safe to call from several threads at once (it only reads the model). Files over
    `max_mb` or longer than `max_seconds` are refused before any decoding."""

    def __init__(
        self,
        model=None,
        weights=None,
        device: str | None = None,
        num_frames: int | None = None,
        max_seconds: float = 60.0,
        max_mb: float = 50.0,
    ):
        from avemo.inference.ensemble import EnsemblePredictor
        from avemo.inference.predictor import Predictor

        self.max_seconds, self.max_mb = max_seconds, max_mb
        self.ensemble = None
        if isinstance(model, (tuple, list)):
            self.ensemble = EnsemblePredictor(model, weights=weights, device=device, num_frames=num_frames)
            self.predictor = self.ensemble.members[0]
        else:
            self.predictor = Predictor(model, device=device, num_frames=num_frames)

    @property
    def labels(self) -> list[str]:
        """The label names the analysis reports, in the model's order."""
        return self.predictor.labels

    def check_file(self, path: Path) -> float | None:
        """Size and length limits, before any decoding: raises InputRejected saying which one the file passes.
        Returns the file's length in seconds from its headers (None when they do not say)."""
        size_mb = path.stat().st_size / 1e6
        if size_mb > self.max_mb:
            raise InputRejected(f"{path.name}: {size_mb:.1f} MB is more than this Space accepts ({self.max_mb:g} MB)")
        seconds = media_duration(path)
        if seconds is not None and seconds > self.max_seconds:
            raise InputRejected(
                f"{path.name}: the clip lasts {seconds:.1f} s, longer than this Space accepts "
                f"({self.max_seconds:g} s); trim it or run avemo predict locally"
            )
        return seconds

    def analyse(self, path) -> Analysis:
        """Decode, align, predict, and compute what the plots show. Returns the `Analysis`; raises MediaError /
        NothingToPredictError / InputRejected on bad input."""
        from avemo.inference.timeline import TimelineBuilder

        path = Path(path)
        duration = self.check_file(path)
        predictor, processor = self.predictor, self.predictor.processor
        clip = processor.process_video(path)
        if self.ensemble is not None:
            prediction = self.ensemble.predict_file(path, clips={processor.to_json_string(): clip}).to_dict()
        else:
            prediction = predictor.predict_clip(clip).to_dict()
        prediction["file"] = path.name
        per_frame, visual_weights, log_mel, audio_weights = self._frame_and_audio_views(clip)
        persons, crops = self.people(path)
        prediction["persons"] = [person.to_dict() for person in persons]
        timeline = None
        if duration is not None and duration >= TIMELINE_FROM_SECONDS:
            timeline = list(TimelineBuilder(predictor, window=2.0, hop=1.0).run(path))
            prediction["timeline"] = [row.to_dict() for row in timeline]
        extractor = processor.feature_extractor
        return Analysis(
            prediction=prediction,
            frame_times=list(clip.frame_times),
            face_times=[clip.frame_times[face.frame_index] for face in clip.faces],
            crops=[face.crop for face in clip.faces],
            per_frame=per_frame,
            visual_weights=visual_weights,
            log_mel=log_mel,
            audio_weights=audio_weights,
            hop_seconds=extractor.hop_length / extractor.sampling_rate,
            labels=self.labels,
            timeline=timeline,
            persons=persons,
            person_crops=crops,
        )

    def _frame_and_audio_views(self, clip) -> tuple:
        """One more pass of the first model for the plots: the whole clip (its frame weights and audio attention),
        then each face on its own (audio withheld), so that the plot shows what every frame says by itself. Returns
        (each face's probabilities, the frame weights or None, the log-mel (mel, time) or None, the audio attention
        (H, W) or None)."""
        import torch

        from avemo.processing import ProcessedClip

        predictor, processor = self.predictor, self.predictor.processor
        singles = [
            ProcessedClip(clip.source, [face], [clip.frame_times[face.frame_index]], None) for face in clip.faces
        ]
        inputs = processor.batch([clip, *singles]).to(predictor.device)
        with torch.inference_mode():
            outputs = predictor.model(**inputs)
        per_frame = outputs.logits.float().softmax(-1).cpu()[1:].tolist()
        visual_weights = None
        if outputs.visual_attentions is not None and clip.faces:
            visual_weights = outputs.visual_attentions[0, : len(clip.faces)].float().cpu().tolist()
        log_mel = audio_weights = None
        if processor.uses_audio and clip.has_audio:
            length = int(inputs["audio_mask"][0].sum())
            log_mel = inputs["input_features"][0, 0].float().cpu().numpy()[:, : max(length, 1)]
            if outputs.audio_attentions is not None:
                audio_weights = outputs.audio_attentions[0].float().cpu().numpy()
        return per_frame, visual_weights, log_mel, audio_weights

    def people(self, path: Path) -> tuple[list, dict]:
        """Every person of the file (`avemo predict --persons`, the first model's view for an ensemble) and the
        largest face crop of each; none when no face can be used."""
        from avemo.processing import NothingToPredictError

        predictor = self.predictor
        video = predictor.process(path, persons=True)
        try:
            result = predictor.predict_persons(video)
        except NothingToPredictError:
            return [], {}
        crops = {}
        for person in video.persons:
            faces = person.faces or []
            if faces:
                largest = max(faces, key=lambda face: (face.box[2] - face.box[0]) * (face.box[3] - face.box[1]))
                crops[person.person_id] = largest.crop
        return result.persons, crops
