"""Batches of cached clips (see caching.py) for the Trainer: faces and audio padded with the model's masks.

Training samples a random subset of each clip's faces (FAN trains on a few random frames per clip) and a
random crop of its audio; evaluation uses a fixed, evenly spaced subset and the whole audio, so that the same
clip always gives the same inputs.
"""

from dataclasses import dataclass

import numpy as np
import torch

from .caching import faces_array


def evenly_spaced(count: int, keep: int) -> np.ndarray:
    """`keep` indices spread over range(count), the segment centres (all of them when keep >= count)."""
    if keep >= count:
        return np.arange(count)
    return np.floor((np.arange(keep) + 0.5) * count / keep).astype(int)


@dataclass
class AVEmoCollator:
    """Turns rows with `faces`, `waveform` and `label` into model inputs.

    Args:
        processor: the AVEmoProcessor whose normalisation and feature extractor are used.
        train: random frame subsets and audio crops (True) or the fixed evaluation sampling (False).
        frames: faces per clip given to the model (None: every cached face).
        audio_crop_seconds: in training, crop longer audio to a random window of this length (None: whole clip).
    """

    processor: object
    train: bool = False
    frames: int | None = None
    audio_crop_seconds: float | None = None

    def _pick_faces(self, faces: np.ndarray) -> np.ndarray:
        count = len(faces)
        if self.frames is None or count <= self.frames:
            return faces
        if self.train:
            chosen = torch.randperm(count)[: self.frames].sort().values.numpy()
        else:
            chosen = evenly_spaced(count, self.frames)
        return faces[chosen]

    def _crop_audio(self, waveform: np.ndarray) -> np.ndarray:
        if not self.train or self.audio_crop_seconds is None:
            return waveform
        length = int(self.audio_crop_seconds * self.processor.feature_extractor.sampling_rate)
        if len(waveform) <= length:
            return waveform
        start = int(torch.randint(0, len(waveform) - length + 1, ()).item())
        return waveform[start : start + length]

    def __call__(self, rows: list[dict]) -> dict:
        batch = {}
        if self.processor.uses_visual:
            size = self.processor.face_size
            batch.update(self.processor.face_tensors([self._pick_faces(faces_array(row["faces"], size)) for row in rows]))
        if self.processor.uses_audio:
            waveforms = [self._crop_audio(np.asarray(row["waveform"], dtype=np.float32)) for row in rows]
            batch.update(self.processor.audio_tensors(waveforms))
        if "label" in rows[0]:
            batch["labels"] = torch.tensor([int(row["label"]) for row in rows], dtype=torch.long)
        return batch
