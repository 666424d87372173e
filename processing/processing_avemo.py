"""AVEmoProcessor: from video files (or frames and waveforms) to the inputs of an AVEmo model.

    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    inputs = processor(videos=["clip.mp4"], return_tensors="pt")
    logits = model(**inputs).logits

Per clip: `num_frames` frames spread over the clip are decoded (PyAV), the largest face of each is found with
dlib and cut and normalised as the model's face recipe says (face_recipes_avemo.py); frames without a face are
dropped (and reported). A still image is a clip of one frame without audio; an audio file, to a model with both
branches, a clip without faces (faces-only models refuse it). The audio track is resampled and turned
into log-mel + deltas by the feature extractor. A clip without audio, with silent audio, or without any face
keeps an all-zero `audio_mask` / `frame_mask`, which the model handles (see modeling_avemo.py).

`process_video` / `process_frames` return a `ProcessedClip` with what the model inputs hide: which frames were
used, the face boxes, landmarks and crops, and warnings.

A call takes transformers' processor kwargs (`AVEmoProcessorKwargs`), flat or per modality:

    processor(videos=paths, num_frames=16)                              # 16 frames per clip for this call
    processor(frames=clips, audio=waveforms, sampling_rate=44100, videos_kwargs={"do_sample_frames": True})
"""

from typing import is_typeddict

import numpy as np
from transformers import BatchFeature, ProcessorMixin
from transformers.processing_utils import ProcessingKwargs, Unpack
from transformers.utils import logging

from .clip_avemo import NothingToPredictError, ProcessedClip
from .face_alignment_avemo import FaceAligner, as_rgb_uint8
from .face_recipes_avemo import FaceRecipe, face_recipe
from .feature_extraction_avemo import AVEmoFeatureExtractor, resample
from .padding_avemo import TIME_AXES, clip_inputs, pad_clips
from .persons_avemo import read_persons
from .video_io_avemo import NotAVideoError, StillImageError, read_audio, read_frames, read_image

logger = logging.get_logger(__name__)

# Copied from modeling_avemo.configuration_avemo.MODALITIES
MODALITIES = ("audio_visual", "visual", "audio")

# The transformers video and audio kwargs a call honours; their other kwargs (resizing, normalising, padding, ...)
# are what the face recipe and the feature extractor do here.
HONOURED_KWARGS = {
    "videos_kwargs": ("do_sample_frames", "num_frames", "return_tensors"),
    "audio_kwargs": ("sampling_rate", "return_tensors"),
}


class AVEmoProcessorKwargs(ProcessingKwargs, total=False):
    """transformers' processor kwargs (`processing_utils.ProcessingKwargs`), given flat, per modality
    (`videos_kwargs={...}`, `audio_kwargs={...}`) or as `common_kwargs`. `AVEmoProcessor.__call__` honours:

    - `return_tensors`: `"pt"` (the default) or `"np"`;
    - `num_frames`: frames sampled per clip in this call (else the processor's `num_frames`);
    - `do_sample_frames`: sample `num_frames` frames at the centres of equal segments (the default for video files,
      and for decoded `frames=` when `num_frames` is given), or keep every frame (`False`; the default for `frames=`);
    - `sampling_rate`: the rate of the `audio=` waveforms (required with them).

    transformers' other video and audio kwargs (resizing, normalising, padding, truncation, ...) are refused with an
    error naming them: the face recipe and the feature extractor decide those here. `text_kwargs` and `images_kwargs`
    are accepted and ignored, as transformers' own processors do for a modality they have no sub-processor for (so
    that one call can serve several processors).
    """


class AVEmoProcessor(ProcessorMixin):
    r"""
    Turns clips into `pixel_values`, `frame_mask`, `input_features` and `audio_mask`.

    Args:
        feature_extractor ([`AVEmoFeatureExtractor`]): the audio front end.
        num_frames (`int`, defaults to 8): frames sampled per clip, at the centres of equal segments.
        face_recipe (`str` or `dict`, defaults to `"arcface"`): how faces are cut and normalised (geometry, size,
            colour, mean and std; see `FaceRecipe`); must be the model config's `face_recipe`. Saved as a dict.
        detection_max_side (`int`, defaults to 640): frames are scaled down to this size for detection only.
        upsample_fallback (`bool`, defaults to `True`): retry HOG detection with one up-sampling (small faces).
        cnn_fallback (`bool`, defaults to `False`): then dlib's CNN detector (about 1 s per frame on a CPU).
        modalities (`str`, defaults to `"audio_visual"`): what the model uses; `"audio"` skips face work,
            `"visual"` skips audio features.
        face_size (`int`, *optional*): the recipe at another crop side. With `face_margin`, `face_mean` or
            `face_std` (avemo 0.1's settings, read from old folders): a dlib-chip recipe of those values.
    """

    valid_processor_kwargs = AVEmoProcessorKwargs

    def __init__(
        self,
        feature_extractor=None,
        num_frames: int = 8,
        face_recipe=None,
        detection_max_side: int = 640,
        upsample_fallback: bool = True,
        cnn_fallback: bool = False,
        modalities: str = "audio_visual",
        face_size: int | None = None,
        face_margin: float | None = None,
        face_mean=None,
        face_std=None,
    ):
        if feature_extractor is None:
            feature_extractor = AVEmoFeatureExtractor()
        if modalities not in MODALITIES:
            raise ValueError(f"modalities={modalities!r} is not valid; allowed values: {MODALITIES}")
        if not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(f"num_frames={num_frames!r} is not valid; allowed values: an integer >= 1")
        self.num_frames = num_frames
        # Only the recipe is stored (and saved); face_size and friends are read from it.
        self.face_recipe = _recipe_from_arguments(face_recipe, face_size, face_margin, face_mean, face_std).to_dict()
        self.detection_max_side = detection_max_side
        self.upsample_fallback = upsample_fallback
        self.cnn_fallback = cnn_fallback
        self.modalities = modalities
        super().__init__(feature_extractor)

    # Copied from modeling_avemo.configuration_avemo.AVEmoConfig.uses_visual
    @property
    def uses_visual(self) -> bool:
        """Whether faces are used: True for the `"audio_visual"` and `"visual"` modalities."""
        return self.modalities in ("audio_visual", "visual")

    # Copied from modeling_avemo.configuration_avemo.AVEmoConfig.uses_audio
    @property
    def uses_audio(self) -> bool:
        """Whether the audio is used: True for the `"audio_visual"` and `"audio"` modalities."""
        return self.modalities in ("audio_visual", "audio")

    @property
    def recipe(self) -> FaceRecipe:
        """The face recipe as a `FaceRecipe` (the processor stores and saves its dict)."""
        return face_recipe(self.face_recipe)

    @property
    def face_size(self) -> int:
        """Side of the face crops in pixels, as the recipe says."""
        return self.face_recipe["size"]

    @property
    def aligner(self) -> FaceAligner:
        """A `FaceAligner` with the processor's recipe and detection settings, made anew at each access."""
        # Built on demand: to_dict deep-copies attributes, and the aligner is cheap (dlib models are cached).
        return FaceAligner(self.recipe, self.detection_max_side, self.upsample_fallback, self.cnn_fallback)

    # ------------------------------------------------------------------------------------------- single clips

    def process_video(
        self, path, persons: bool = False, identity=None, num_frames: int | None = None, do_sample_frames: bool = True
    ) -> ProcessedClip:
        """Decode, align and read the audio of one video file (or a still image, as one frame without audio).
        Raises `MediaError` subclasses on bad files. `num_frames` frames are sampled (the processor's by default), or
        every frame with `do_sample_frames=False`.

        With `persons=True`, every face is tracked and a `PersonsVideo` comes back instead: one `PersonClip` per
        person (their faces, and the audio of the stretches they speak in), largest screen time first; see
        persons_avemo.py. `processor.batch(video.persons)` makes their model inputs. `identity` replaces dlib's
        face-identity descriptor that joins a person's sightings (see face_tracking_avemo.FaceTracker)."""
        path = str(path)
        if persons:
            if num_frames is not None or not do_sample_frames:
                raise ValueError("num_frames and do_sample_frames do not apply with persons=True")
            return read_persons(self, path, identity=identity)
        warnings = []
        faces, times, duration = [], [], 0.0
        if self.uses_visual:
            try:
                frames, times, info = read_frames(path, (num_frames or self.num_frames) if do_sample_frames else None)
            except StillImageError:
                return self._finish(self._still_image(path))
            except NotAVideoError:
                if not self.uses_audio:
                    raise
                return self._finish(self._audio_file(path))
            duration = info["duration"]
            faces = self.aligner.align_frames(frames)
            del frames
        audio = None
        if self.uses_audio:
            audio = read_audio(path, self.feature_extractor.sampling_rate)
            if audio is None:
                warnings.append("no audio stream: prediction from the faces only")
        return self._finish(ProcessedClip(path, faces, times, audio, duration, warnings))

    def _audio_file(self, path: str) -> ProcessedClip:
        """A file without video (speech alone) for a model with both branches: a clip without faces."""
        audio = read_audio(path, self.feature_extractor.sampling_rate)
        warnings = ["no video stream: prediction from the audio only"] if audio is not None else []
        duration = 0.0 if audio is None else len(audio) / self.feature_extractor.sampling_rate
        return ProcessedClip(path, [], [], audio, duration, warnings)

    def _still_image(self, path: str) -> ProcessedClip:
        """A picture as a clip of one frame; it has no audio."""
        faces = self.aligner.align_frames([read_image(path)])
        warnings = ["a still image: one frame, no audio"] if self.uses_audio else []
        return ProcessedClip(path, faces, [0.0], None, 0.0, warnings)

    def process_frames(
        self,
        frames,
        audio=None,
        sampling_rate: int | None = None,
        source: str = "frames",
        num_frames: int | None = None,
        do_sample_frames: bool = False,
    ) -> ProcessedClip:
        """Align in-memory RGB frames ((height, width, 3) uint8, or floats in [0, 1]) and take a mono waveform. Every
        frame is used, or with `do_sample_frames=True` `num_frames` of them (the processor's by default) at the
        centres of equal segments, as video files are sampled."""
        warnings = []
        faces = []
        frames = list(frames) if frames is not None else []
        indices = list(range(len(frames)))
        if do_sample_frames:
            indices = segment_centres(len(frames), num_frames or self.num_frames)
        if self.uses_visual:
            faces = self.aligner.align_frames([as_rgb_uint8(frames[i], f"{source}, frame {i}") for i in indices])
        waveform = None
        if self.uses_audio and audio is not None:
            waveform = _resampled(audio, sampling_rate, self.feature_extractor, source)
        elif self.uses_audio:
            warnings.append("no audio given: prediction from the faces only")
        times = [float(index) for index in indices]
        return self._finish(ProcessedClip(source, faces, times, waveform, 0.0, warnings))

    def _finish(self, clip: ProcessedClip) -> ProcessedClip:
        """Turn what is missing into warnings (and silent audio into no audio)."""
        if self.uses_audio and clip.audio is not None and self.feature_extractor.is_silent(clip.audio):
            clip.warnings.append("the audio track is silent: prediction from the faces only")
            clip.audio = None
        if self.uses_audio and clip.has_audio:
            extractor = self.feature_extractor
            shortest = extractor.min_frames * extractor.hop_length / extractor.sampling_rate
            seconds = len(clip.audio) / extractor.sampling_rate
            if seconds < shortest:
                clip.warnings.append(
                    f"the audio is {seconds:.2f} s long, shorter than the {shortest:.2f} s the audio CNN needs: "
                    "zero-padded"
                )
        if self.uses_visual:
            if clip.frames_sampled and not clip.faces:
                clip.warnings.append(
                    f"no face found in any of the {clip.frames_sampled} sampled frames: prediction from the audio only"
                )
            elif clip.frames_used < clip.frames_sampled:
                clip.warnings.append(
                    f"no face in {clip.frames_sampled - clip.frames_used} of {clip.frames_sampled} sampled frames "
                    "(dropped)"
                )
        has_visual = bool(clip.faces) if self.uses_visual else False
        has_audio = clip.has_audio if self.uses_audio else False
        if not has_visual and not has_audio:
            wanted = {"audio_visual": "neither a face nor audio", "visual": "no face", "audio": "no audio"}[
                self.modalities
            ]
            raise NothingToPredictError(f"{clip.source}: {wanted} to predict from")
        return clip

    # ------------------------------------------------------------------------------------------- batching

    def __call__(self, videos=None, frames=None, audio=None, **kwargs: Unpack[AVEmoProcessorKwargs]) -> BatchFeature:
        """Model inputs for a batch of clips.

        Args:
            videos: a path or a list of paths to video files.
            frames: for in-memory clips, a list (one per clip) of RGB frames; with `audio`, a list of mono
                waveforms (or None for a clip without audio) at `sampling_rate`.
            kwargs: transformers' processor kwargs (`AVEmoProcessorKwargs`): `return_tensors` ("pt", the default, or
                "np"), `num_frames`, `do_sample_frames`, `sampling_rate`.
        """
        options = self._call_options(kwargs)
        if videos is not None and (frames is not None or audio is not None):
            raise ValueError("pass either videos=... or frames=/audio=..., not both")
        num_frames, do_sample_frames = options["num_frames"], options["do_sample_frames"]
        if videos is not None:
            videos = [videos] if isinstance(videos, (str, bytes)) or hasattr(videos, "__fspath__") else list(videos)
            sample = True if do_sample_frames is None else do_sample_frames
            clips = [self.process_video(path, num_frames=num_frames, do_sample_frames=sample) for path in videos]
        elif frames is not None or audio is not None:
            sample = num_frames is not None if do_sample_frames is None else do_sample_frames
            clips = self._clips_from_arrays(frames, audio, options["sampling_rate"], num_frames, sample)
        else:
            raise ValueError("nothing to process: pass videos=[paths] or frames=[...] and/or audio=[...]")
        for clip in clips:
            for warning in clip.warnings:
                logger.warning(f"{clip.source}: {warning}")
        return self.batch(clips, return_tensors=options["return_tensors"])

    def _call_options(self, kwargs: dict) -> dict:
        """`return_tensors`, `num_frames`, `do_sample_frames` and `sampling_rate` (None where not given) from a call's
        transformers processor kwargs, merged by transformers' `_merge_kwargs`. Names it does not know, and video or
        audio kwargs this processor does not honour, are errors naming them (`_merge_kwargs` would only warn)."""
        known = {"common_kwargs"}
        for name, annotation in self.valid_processor_kwargs.__annotations__.items():
            known.add(name)
            if is_typeddict(annotation):
                known.update(annotation.__annotations__)
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(
                f"AVEmoProcessor got unexpected keyword argument(s) {', '.join(unknown)}; it takes videos=, frames=, "
                "audio= and transformers' processor kwargs (see AVEmoProcessorKwargs)"
            )
        merged = self._merge_kwargs(self.valid_processor_kwargs, **kwargs)
        refused = sorted(
            {
                key
                for modality, honoured in HONOURED_KWARGS.items()
                for key, value in merged[modality].items()
                if key not in honoured and value is not None
            }
        )
        if refused:
            allowed = sorted({key for honoured in HONOURED_KWARGS.values() for key in honoured})
            raise ValueError(
                f"AVEmoProcessor does not take {', '.join(refused)}: its face recipe and feature extractor decide how "
                f"faces and audio are prepared; of transformers' video and audio kwargs it takes {', '.join(allowed)}"
            )
        videos_kwargs, audio_kwargs = merged["videos_kwargs"], merged["audio_kwargs"]
        return_tensors = {modality.get("return_tensors") for modality in (videos_kwargs, audio_kwargs)} - {None}
        if len(return_tensors) > 1:
            raise ValueError(f"return_tensors differs between videos_kwargs and audio_kwargs: {sorted(return_tensors)}")
        num_frames, do_sample_frames = videos_kwargs.get("num_frames"), videos_kwargs.get("do_sample_frames")
        if num_frames is not None and (
            isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1
        ):
            raise ValueError(f"num_frames={num_frames!r} is not valid; allowed values: an integer >= 1")
        if do_sample_frames not in (None, True, False):
            raise ValueError(f"do_sample_frames={do_sample_frames!r} is not valid; allowed values: True, False")
        if num_frames is not None and do_sample_frames is False:
            raise ValueError(
                f"num_frames={num_frames} samples frames but do_sample_frames=False keeps every frame: pass one of them"
            )
        return {
            "return_tensors": next(iter(return_tensors), None),
            "num_frames": num_frames,
            "do_sample_frames": do_sample_frames,
            "sampling_rate": audio_kwargs.get("sampling_rate"),
        }

    def _clips_from_arrays(self, frames, audio, sampling_rate, num_frames=None, do_sample_frames=False):
        if frames is not None and audio is not None and len(frames) != len(audio):
            raise ValueError(f"frames and audio must hold the same number of clips; got {len(frames)} and {len(audio)}")
        count = len(frames) if frames is not None else len(audio)
        return [
            self.process_frames(
                frames[index] if frames is not None else None,
                audio[index] if audio is not None else None,
                sampling_rate,
                source=f"clip {index}",
                num_frames=num_frames,
                do_sample_frames=do_sample_frames,
            )
            for index in range(count)
        ]

    def batch(self, clips: list[ProcessedClip], return_tensors: str | None = "pt") -> BatchFeature:
        """Pad processed clips into one batch with the model's masks."""
        if not clips:
            raise ValueError("no clips to batch")
        data = {}
        if self.uses_visual:
            data.update(self.face_tensors([[face.crop for face in clip.faces] for clip in clips]))
        if self.uses_audio:
            data.update(self.audio_tensors([clip.audio if clip.has_audio else None for clip in clips]))
        if return_tensors == "np":
            data = {key: value.numpy() for key, value in data.items()}
        elif return_tensors not in (None, "pt"):
            raise ValueError(f"return_tensors={return_tensors!r} is not supported; use 'pt' or 'np'")
        return BatchFeature(data)

    def pad(self, features, return_tensors: str | None = "pt") -> BatchFeature:
        """A batch from per-clip model inputs of any padding: the data collator for `Dataset.map(processor)`
        followed by the plain `Trainer` (`data_collator=processor.pad`).

        Each feature is a dict with some of `pixel_values` (frames, C, S, S), `frame_mask` (frames,),
        `input_features` (3, mel, time), `audio_mask` (time,) (a leading batch axis of 1 is accepted, as
        `processor(videos=path)` returns it) and `label` or `labels`; lists, NumPy arrays or tensors. Faces and audio
        are zero-padded to the longest clip and the masks extended with zeros.
        """
        import torch

        if isinstance(features, dict):
            features = [features]
        if not features:
            raise ValueError("pad needs at least one feature")
        rows = clip_inputs(features)
        batch = {}
        for values_key, mask_key in (("pixel_values", "frame_mask"), ("input_features", "audio_mask")):
            if not any(values_key in row for row in rows):
                continue
            longest = max(row[values_key].shape[TIME_AXES[values_key]] for row in rows if values_key in row)
            batch[values_key], batch[mask_key] = pad_clips(rows, values_key, mask_key, longest)
        labels = [feature.get("labels", feature.get("label")) for feature in features]
        if any(label is not None for label in labels):
            if any(label is None for label in labels):
                raise ValueError("some features have a label and others not")
            batch["labels"] = torch.as_tensor([int(label) for label in labels], dtype=torch.long)
        if return_tensors == "np":
            batch = {key: value.numpy() for key, value in batch.items()}
        elif return_tensors not in (None, "pt"):
            raise ValueError(f"return_tensors={return_tensors!r} is not supported; use 'pt' or 'np'")
        return BatchFeature(batch)

    def face_tensors(self, crops_per_clip: list) -> dict:
        """`pixel_values` (batch, frames, channels, S, S), normalised as the recipe says and zero-padded, and
        `frame_mask`, from each clip's RGB uint8 crops ((frames, S, S, 3) arrays or lists of (S, S, 3) arrays)."""
        import torch

        recipe = self.recipe
        size = recipe.size
        # np.require copies read-only buffers (cached bytes) that torch.from_numpy would warn about.
        crops_per_clip = [
            np.require(np.asarray(crops, dtype=np.uint8).reshape(-1, size, size, 3), requirements="W")
            for crops in crops_per_clip
        ]
        frames = max(1, max(len(crops) for crops in crops_per_clip))
        pixel_values = torch.zeros(len(crops_per_clip), frames, recipe.channels, size, size)
        frame_mask = torch.zeros(len(crops_per_clip), frames, dtype=torch.long)
        mean = torch.tensor(recipe.mean).view(-1, 1, 1)
        std = torch.tensor(recipe.std).view(-1, 1, 1)
        for row, crops in enumerate(crops_per_clip):
            if len(crops):
                pixels = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
                if recipe.color == "gray":
                    pixels = luma(pixels)
                pixel_values[row, : len(crops)] = (pixels / 255.0 - mean) / std
                frame_mask[row, : len(crops)] = 1
        return {"pixel_values": pixel_values, "frame_mask": frame_mask}

    def audio_tensors(self, waveforms: list) -> dict:
        """`input_features` and `audio_mask` from mono waveforms at the extractor's rate (None or empty: no audio)."""
        waveforms = [np.zeros(0, dtype=np.float32) if w is None else w for w in waveforms]
        return dict(
            self.feature_extractor(waveforms, sampling_rate=self.feature_extractor.sampling_rate, return_tensors="pt")
        )

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save the processor as transformers does, leaving no `auto_map` behind on it. Returns transformers' answer:
        a list holding the path of processor_config.json."""
        try:
            return super().save_pretrained(save_directory, *args, **kwargs)
        finally:
            # transformers sets `auto_map` on a remote-code processor to write it into processor_config.json, and
            # leaves it there: the saved processor would then differ from one loaded from that folder (which has
            # none), and a save would change what the processor is.
            self.__dict__.pop("auto_map", None)

    @property
    def model_input_names(self):
        """The names of the model inputs the processor makes: `pixel_values` and `frame_mask` with faces,
        `input_features` and `audio_mask` with audio."""
        names = []
        if self.uses_visual:
            names += ["pixel_values", "frame_mask"]
        if self.uses_audio:
            names += ["input_features", "audio_mask"]
        return names


def segment_centres(count: int, num_frames: int) -> list[int]:
    """Indices of the frames at the centres of `num_frames` equal segments of `count` frames (each frame once when
    there are no more than `num_frames`), as `read_frames` samples a video file."""
    if count <= num_frames:
        return list(range(count))
    return [int((index + 0.5) * count / num_frames) for index in range(num_frames)]


def luma(pixels):
    """ITU-R 601 luma of (..., 3, H, W) RGB values in 0-255, rounded to integers as an 8-bit grayscale image is
    (PIL's convert("L"), OpenCV's RGB2GRAY): (..., 1, H, W)."""
    import torch

    weights = torch.tensor([0.299, 0.587, 0.114], dtype=pixels.dtype).view(3, 1, 1)
    return (pixels * weights).sum(dim=-3, keepdim=True).round()


def _recipe_from_arguments(recipe, face_size, face_margin, face_mean, face_std) -> FaceRecipe:
    if recipe is None and any(value is not None for value in (face_margin, face_mean, face_std)):
        # A processor saved by avemo 0.1: a dlib chip of these settings.
        return FaceRecipe(
            name="chip",
            geometry="chip",
            size=face_size or 112,
            margin=0.3 if face_margin is None else face_margin,
            mean=face_mean or (0.5, 0.5, 0.5),
            std=face_std or (0.5, 0.5, 0.5),
            origin="avemo 0.1 processor settings (face_size, face_margin, face_mean, face_std)",
        )
    return face_recipe("arcface" if recipe is None else recipe, face_size)


def _resampled(audio, sampling_rate, feature_extractor, source) -> np.ndarray:
    """A mono float32 waveform at the extractor's rate."""
    import torch

    waveform = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio, dtype=np.float32)
    if waveform.ndim != 1:
        raise ValueError(f"{source}: audio must be 1-D mono samples; got shape {waveform.shape}")
    if sampling_rate is None:
        raise ValueError(f"{source}: pass sampling_rate= with audio (a wrong rate would give silently wrong features)")
    if not isinstance(sampling_rate, (int, np.integer)) or isinstance(sampling_rate, bool) or sampling_rate <= 0:
        raise ValueError(f"{source}: sampling_rate must be a positive integer (Hz); got {sampling_rate!r}")
    bad = int(np.count_nonzero(~np.isfinite(waveform)))
    if bad:
        raise ValueError(f"{source}: the waveform holds {bad} NaN or infinite samples; clean or clip it first")
    return resample(waveform.astype(np.float32, copy=False), sampling_rate, feature_extractor.sampling_rate)


AVEmoProcessor.register_for_auto_class("AutoProcessor")

__all__ = ["AVEmoProcessor", "AVEmoProcessorKwargs", "ProcessedClip", "NothingToPredictError"]
