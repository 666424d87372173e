"""Batches of cached clips (see caching.py) for the Trainer: faces and audio padded with the model's masks.

Training samples a random subset of each clip's faces (FAN trains on a few random frames per clip), optionally
a random crop of its audio, and augments both (see augmentation.py: flips, shifts and colour jitter of the faces,
a time shift of the waveform, SpecAugment masks on the log-mel); evaluation uses a fixed, evenly spaced subset
and the whole audio, never augmented, so that the same clip always gives the same inputs.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

from avemo.data.augmentation import AugmentConfig, augment_faces, augment_waveform, mask_features
from avemo.data.caching import faces_array
from avemo.processing.processing_avemo import segment_centres


@dataclass
class AVEmoCollator:
    """Turns rows with `faces`, `waveform` and `label` into model inputs.

    Args:
        processor: the AVEmoProcessor whose normalisation and feature extractor are used.
        train: training (random audio crops and the augmentation of `augment`) or evaluation (False: the fixed
            sampling, no augmentation whatever `augment` says).
        frames: faces per clip given to the model (None: every cached face).
        audio_crop_seconds: in training, crop longer audio to a random window of this length (None: whole clip).
        augment: what training does to each clip (default: `AugmentConfig()`; `AugmentConfig.none()`: nothing).
    """

    processor: object
    train: bool = False
    frames: int | None = None
    audio_crop_seconds: float | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def _pick_faces(self, faces: np.ndarray) -> np.ndarray:
        count = len(faces)
        if self.frames is None or count <= self.frames:
            return faces
        if self.train and self.augment.random_frames:
            chosen = torch.randperm(count)[: self.frames].sort().values.numpy()
        else:
            chosen = segment_centres(count, self.frames)  # as the processor samples a video's frames
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
        augment = self.augment if self.train else None
        if self.processor.uses_visual:
            size = self.processor.face_size
            crops = [self._pick_faces(faces_array(row["faces"], size)) for row in rows]
            if augment is not None:
                crops = [augment_faces(faces, augment) for faces in crops]
            batch.update(self.processor.face_tensors(crops))
        if self.processor.uses_audio:
            waveforms = [self._crop_audio(np.asarray(row["waveform"], dtype=np.float32)) for row in rows]
            if augment is not None:
                rate = self.processor.feature_extractor.sampling_rate
                waveforms = [augment_waveform(waveform, augment, rate) for waveform in waveforms]
            audio = self.processor.audio_tensors(waveforms)
            if augment is not None:
                audio["input_features"] = mask_features(audio["input_features"], audio["audio_mask"], augment)
            batch.update(audio)
        if "label" in rows[0]:
            batch["labels"] = torch.tensor([int(row["label"]) for row in rows], dtype=torch.long)
        return batch
