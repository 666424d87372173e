"""Prediction on video files: what `avemo predict` runs, as a Python API.

from avemo.inference import Predictor
predictor = Predictor()                     # avemo's shipped faces model; or a model folder or a hub id
result = predictor.predict_file("clip.mp4")
result.label, result.scores, result.warnings, result.notes
result = predictor.predict_file("interview.mp4", persons=True)   # every person: result.persons
"""

from dataclasses import asdict, dataclass, field
from os import PathLike

from avemo.inference.scores import scores_of, top_label
from avemo.model_folders.loading import load_model_folder


@dataclass
class PersonPrediction:
    """One person of a file (an object of the `persons` list of `avemo predict --persons --json`)."""

    id: int  # stable over the video: 1, 2, ... in the order people first appear
    frames: int  # sampled frames (the model's) in which this person's face was used
    first_seen: float  # seconds
    last_seen: float
    box: list[int]  # median x, y, width, height in pixels
    label: str | None  # None: not predicted (seen too rarely, faces too small: `warnings` says why)
    scores: dict[str, float] | None
    speaking: float | None  # share of the file's speech attributed to this person (None: the file has no speech)
    audio_used: bool  # fused with the audio of the stretches they speak in; False: visual only
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The person as the JSON object `avemo predict --persons --json` prints."""
        return asdict(self)


@dataclass
class Prediction:
    """The result for one file (the JSON object of `avemo predict --json`)."""

    file: str
    label: str
    scores: dict[str, float]  # label -> probability, in the model's label order
    frames_used: int  # sampled frames in which a face was found
    frames_sampled: int
    audio_used: bool
    warnings: list[str] = field(default_factory=list)  # reasons to distrust this result
    notes: list[str] = field(default_factory=list)  # what the model is (faces only, trained on still images, ...)
    # With persons: every person, largest screen time first, and the id of the one label and scores describe (None:
    # nobody's face could be used, the answer is the audio's). Left out of to_dict without persons.
    persons: list[PersonPrediction] | None = None
    person: int | None = None

    def to_dict(self) -> dict:
        """The result as the JSON object `avemo predict --json` prints (without `persons` and `person` unless persons
        were asked for)."""
        data = asdict(self)
        if self.persons is None:
            del data["persons"], data["person"]
        return data


class Predictor:
    """A model and its processor, loaded once, for many files.

    `model` is a model folder, the name of a shipped model ("fer2013-faces") or a hub id; None is avemo's default
    shipped model.
    """

    def __init__(self, model: str | PathLike | None = None, device: str | None = None, num_frames: int | None = None):
        import torch

        loaded = load_model_folder(model)
        self.source, self.model, self.processor = loaded.source, loaded.model, loaded.processor
        self.load_warnings = list(loaded.warnings)
        if num_frames is not None:
            self.processor.num_frames = num_frames
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device).eval()
        if self.device.type == "cpu":
            # oneDNN runs the CNNs faster on NHWC tensors.
            self.model.to(memory_format=torch.channels_last)
        config = self.model.config
        self.load_warnings += config.provenance_warnings()
        self.notes = config.provenance_notes()
        from avemo.inference.identity import identity_for

        self.identity = identity_for(self)  # None: dlib's descriptor follows people (--persons)
        if self.processor.uses_visual:
            self.processor.aligner.load_models()

    @property
    def labels(self) -> list[str]:
        """The model's label names in class-index order."""
        return self.model.config.labels

    def probabilities(self, clip):
        """The model's label probabilities for one `ProcessedClip`, as a CPU tensor in `self.labels`' order."""
        import torch

        inputs = self.processor.batch([clip], return_tensors="pt").to(self.device)
        with torch.inference_mode():
            return self.model(**inputs).logits.float().softmax(-1)[0].cpu()

    def predict_clip(self, clip) -> Prediction:
        """Scores of one `ProcessedClip` (from `processor.process_video` or `process_frames`)."""
        return self._prediction(clip, self.probabilities(clip))

    def _prediction(self, clip, probabilities) -> Prediction:
        return Prediction(
            file=clip.source,
            label=top_label(probabilities, self.labels),
            scores=scores_of(probabilities, self.labels),
            frames_used=clip.frames_used,
            frames_sampled=clip.frames_sampled,
            audio_used=clip.has_audio and self.processor.uses_audio,
            warnings=self.load_warnings + clip.warnings,
            notes=list(self.notes),
        )

    def predict_file(self, path: str | PathLike, persons: bool = False) -> Prediction:
        """Decode, align, featurise and classify one video file (raises MediaError / NothingToPredictError).
        Safe to call from several threads at once: each call has its own clip and only reads the model.

        With `persons`, every face is tracked and each person predicted on their own (`Prediction.persons`); the
        clip-level label and scores are then those of the main speaker, else of the person on screen longest."""
        return self.predict_processed(self.process(path, persons))

    def process(self, path, persons: bool = False):
        """`processor.process_video(path, persons=...)`, persons followed with this model's identity descriptor
        (`avemo.identity`: its face CNN when it is the MS-Celeb-1M IR50 as published, else dlib's)."""
        return self.processor.process_video(path, persons=persons, identity=self.identity if persons else None)

    def predict_processed(self, processed) -> Prediction:
        """The prediction of what `processor.process_video` returned: a `ProcessedClip`, or a `PersonsVideo`."""
        from avemo.processing import PersonsVideo

        return self.predict_persons(processed) if isinstance(processed, PersonsVideo) else self.predict_clip(processed)

    def predict_persons(self, video) -> Prediction:
        """Every person of a `PersonsVideo` (from `processor.process_video(path, persons=True)`) predicted from
        their own faces and the audio given to them, in one batch."""
        import torch

        from avemo.processing import NothingToPredictError, ProcessedClip

        predictable = [person for person in video.persons if person.predictable]
        rows = {}
        if predictable:
            inputs = self.processor.batch(predictable, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                probabilities = self.model(**inputs).logits.float().softmax(-1).cpu()
            rows = {person.person_id: row for person, row in zip(predictable, probabilities)}
        persons = []
        for person in video.persons:
            row = rows.get(person.person_id)
            scores = None if row is None else scores_of(row, self.labels)
            persons.append(
                PersonPrediction(
                    id=person.person_id,
                    frames=person.frames_used,
                    first_seen=person.first_seen,
                    last_seen=person.last_seen,
                    box=list(person.box),
                    label=None if row is None else top_label(row, self.labels),
                    scores=scores,
                    speaking=person.speaking,
                    audio_used=bool(scores) and person.has_audio and self.processor.uses_audio,
                    warnings=list(person.warnings),
                )
            )
        described, reason = video.main_person()
        if described is not None:
            clip = described
            result = self._prediction(clip, rows[described.person_id])
            result.notes.append(f"label and scores describe person {described.person_id}, {reason}")
        else:
            if not (self.processor.uses_audio and video.audio is not None):
                what = "no face to predict from" if self.processor.uses_visual else "no audio to predict from"
                raise NothingToPredictError(f"{video.source}: {what}")
            clip = ProcessedClip(video.source, [], video.frame_times, video.audio, video.duration)
            clip.warnings.append(f"no person's face could be used in the {len(video.frame_times)} sampled frames")
            result = self.predict_clip(self.processor._finish(clip))
            result.notes.append("label and scores are the audio's: no person's face could be used")
        result.warnings = self.load_warnings + video.warnings + [w for w in clip.warnings if w not in video.warnings]
        result.persons, result.person = persons, described.person_id if described is not None else None
        if self.identity is not None:
            result.notes.append(f"people are told apart by {self.identity.name}")
        return result

    def predict_files(self, paths, workers: int = 2, persons: bool = False):
        """Yield `(path, Prediction or the exception it raised)` in the order of `paths`, decoding and finding
        faces of the next files in `workers` threads while the model runs on the current one (PyAV, dlib and
        torch release the GIL for their work), so that a batch of files keeps both cores of a laptop busy."""
        from concurrent.futures import ThreadPoolExecutor

        from avemo.processing import MediaError, NothingToPredictError

        def prepare(path):
            """The file processed, or the error it raised."""
            try:
                return self.process(path, persons)
            except (MediaError, NothingToPredictError, OSError) as error:
                return error

        paths = list(paths)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(prepare, path) for path in paths[: workers + 1]]
            for index, path in enumerate(paths):
                clip = futures[index].result()
                if index + workers + 1 < len(paths):  # keep the pool `workers` files ahead, never all of them
                    futures.append(pool.submit(prepare, paths[index + workers + 1]))
                if not isinstance(clip, Exception):
                    try:
                        clip = self.predict_processed(clip)
                    except NothingToPredictError as error:  # persons: no usable face, and no audio
                        clip = error
                yield path, clip


def predict(
    videos,
    model: str | PathLike | None = None,
    device: str | None = None,
    num_frames: int | None = None,
    persons: bool = False,
) -> list[Prediction]:
    """Predictions for one or several video files (or still images) with `model` (a folder, a shipped model's
    name or a hub id; None: the default shipped model); with `persons`, every person of each file too."""
    videos = [videos] if isinstance(videos, (str, PathLike)) else list(videos)
    predictor = Predictor(model, device=device, num_frames=num_frames)
    return [predictor.predict_file(path, persons=persons) for path in videos]
