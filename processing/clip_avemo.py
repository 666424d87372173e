"""One clip after decoding and face alignment, before batching (what `AVEmoProcessor.process_video` returns)."""

from dataclasses import dataclass, field

import numpy as np

from .face_alignment_avemo import AlignedFace


@dataclass
class ProcessedClip:
    """One clip after decoding and face alignment, before batching."""

    source: str  # file path, or "frames[i]" for in-memory input
    faces: list[AlignedFace]  # one per frame where a face was found
    frame_times: list[float]  # time (s) of every sampled frame
    audio: np.ndarray | None  # mono waveform at the feature extractor's rate; None without audio
    duration: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def frames_sampled(self) -> int:
        """How many frames were sampled from the clip, with a face or not."""
        return len(self.frame_times)

    @property
    def frames_used(self) -> int:
        """How many sampled frames held a face: the frames the model sees."""
        return len(self.faces)

    @property
    def has_audio(self) -> bool:
        """Whether the clip has a waveform of at least one sample."""
        return self.audio is not None and self.audio.size > 0


class NothingToPredictError(ValueError):
    """A clip has none of the modalities the model uses (no face and no audio)."""


__all__ = ["ProcessedClip", "NothingToPredictError"]
