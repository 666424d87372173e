"""Training-time augmentation, applied on the fly by the training collator (never in evaluation).

The paper reports +2.6 points on AFEW validation from augmentation (61.1 % to 63.7 %) but does not publish what
it did, so every default below is avemo's own choice: modest, standard transforms.

Faces (each clip's aligned uint8 crops, before the recipe's normalisation):
- `random_frames`: a random subset of the cached faces per clip (FAN trains on random frames) instead of the
  evenly spaced subset evaluation uses;
- `horizontal_flip`: mirror the crops with this probability (aligned faces are nearly symmetric);
- `face_shift`: move the crops by up to this share of their side, in whole pixels, filling with black (the
  border the aligner's warp gives): a random crop of a zero-padded face;
- `brightness`, `contrast`, `saturation`: colour jitter, each factor drawn from [1 - x, 1 + x] and applied with
  torchvision's formulas (adjust_brightness, adjust_contrast, adjust_saturation) in that fixed order (ColorJitter
  shuffles the order). No hue jitter: shifted skin hues are not faces a model meets.

Audio:
- `time_shift_seconds`: roll the waveform by up to this many seconds either way (what audiomentations' `Shift`
  does by default): no sample is lost and the clip keeps its length, and so its mask;
- `time_masks` x `time_mask_frames`, `freq_masks` x `freq_mask_bins`: SpecAugment masks on the log-mel + delta
  "image" after the feature extractor, the same band on all three planes, drawn by torchaudio's TimeMasking /
  FrequencyMasking over the clip's real frames only (padding is never touched), filled with each plane's mean
  over those frames (0 after the default per-clip normalisation, as in SpecAugment).

Random numbers come from torch's generator: the Trainer seeds it, and DataLoader workers each get their own seed
from it (NumPy's global generator would repeat the same draws in every worker).
"""

from dataclasses import Field, asdict, dataclass

import numpy as np

from avemo.options import option


def _option(default, help: str) -> Field:
    """A field that is also a flag of avemo train and train-faces (avemo.options), its metavar N or X by type."""
    metavar = None if isinstance(default, bool) else "N" if isinstance(default, int) else "X"
    return option(default, help, metavar=metavar)


@dataclass
class AugmentConfig:
    """What the training collator does to each clip. `AugmentConfig.none()` switches everything off."""

    random_frames: bool = _option(
        True, "random subset of the cached faces per clip (off: the evenly spaced subset evaluation uses)"
    )
    horizontal_flip: float = _option(0.5, "probability of mirroring a clip's faces")
    face_shift: float = _option(0.05, "largest shift of a clip's faces, as a share of the crop side (black fill)")
    brightness: float = _option(0.2, "brightness factor drawn from [1-x, 1+x]")
    contrast: float = _option(0.2, "contrast factor drawn from [1-x, 1+x]")
    saturation: float = _option(0.2, "saturation factor drawn from [1-x, 1+x]")
    time_shift_seconds: float = _option(0.2, "largest roll of the waveform, either way, in seconds")
    time_masks: int = _option(2, "SpecAugment time masks per clip")
    time_mask_frames: int = _option(20, "widest time mask, in frames of 10 ms")
    time_mask_max_share: float = _option(0.2, "a time mask also stays under this share of the clip's real frames")
    freq_masks: int = _option(2, "SpecAugment frequency masks per clip")
    freq_mask_bins: int = _option(12, "widest frequency mask, in feature rows (mel bins)")

    def __post_init__(self):
        def check(name, valid, what):
            value = getattr(self, name)
            if isinstance(value, bool) and name != "random_frames" or not valid(value):
                raise ValueError(f"augmentation: {name}={value!r} is not valid; it must be {what}")

        check("random_frames", lambda v: isinstance(v, bool), "True or False")
        for name in ("horizontal_flip", "brightness", "contrast", "saturation"):
            check(name, lambda v: isinstance(v, (int, float)) and 0 <= v <= 1, "between 0 and 1")
        check("face_shift", lambda v: isinstance(v, (int, float)) and 0 <= v < 0.5, "at least 0 and under 0.5")
        check("time_shift_seconds", lambda v: isinstance(v, (int, float)) and v >= 0, "0 or more")
        check("time_mask_max_share", lambda v: isinstance(v, (int, float)) and 0 < v <= 1, "above 0 and at most 1")
        for name in ("time_masks", "time_mask_frames", "freq_masks", "freq_mask_bins"):
            check(name, lambda v: isinstance(v, (int, np.integer)) and v >= 0, "a whole number, 0 or more")

    @classmethod
    def none(cls) -> "AugmentConfig":
        """No augmentation: training sees the clips as evaluation does (apart from an explicit audio crop). The mask
        widths keep their defaults, so that setting a mask count alone switches masking back on."""
        return cls(
            random_frames=False,
            horizontal_flip=0.0,
            face_shift=0.0,
            brightness=0.0,
            contrast=0.0,
            saturation=0.0,
            time_shift_seconds=0.0,
            time_masks=0,
            freq_masks=0,
        )

    def to_dict(self) -> dict:
        """The settings as a plain dict (for the run's record)."""
        return asdict(self)

    @property
    def is_off(self) -> bool:
        """Whether training batches come out as evaluation sees them (nothing drawn, nothing changed)."""
        return not (self.random_frames or self.changes_faces or self.time_shift_seconds or self.masks_features)

    @property
    def changes_faces(self) -> bool:
        """Whether any face transform (flip, shift, colour jitter) can change a crop."""
        return bool(self.horizontal_flip or self.face_shift or self.brightness or self.contrast or self.saturation)

    @property
    def masks_features(self) -> bool:
        """Whether any SpecAugment mask (a count and a width above 0) can be drawn."""
        return bool(self.time_masks and self.time_mask_frames or self.freq_masks and self.freq_mask_bins)


# ------------------------------------------------------------------------------------------------------ faces


@dataclass(frozen=True)
class FaceTransform:
    """One draw of the face augmentation, applied alike to every frame of a clip: the model pools over frames,
    and frames flipped, shifted or lit differently from one another would show changes the clip does not have."""

    flip: bool = False
    shift_y: int = 0  # pixels down (negative: up)
    shift_x: int = 0  # pixels right (negative: left)
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0

    @property
    def is_identity(self) -> bool:
        """Whether this draw leaves the crops as they are."""
        return self == FaceTransform()

    def apply(self, crops: np.ndarray) -> np.ndarray:
        """(frames, S, S, 3) uint8 RGB crops -> the transformed crops (same shape and dtype)."""
        import torch

        crops = np.asarray(crops, dtype=np.uint8)
        if self.is_identity or len(crops) == 0:
            return crops
        pixels = torch.from_numpy(
            np.require(crops, requirements=["C", "W"])
        ).float()  # (frames, S, S, 3); copies read-only cache bytes
        if self.flip:
            pixels = pixels.flip(2)
        if self.shift_y or self.shift_x:
            pixels = _shifted(pixels, self.shift_y, self.shift_x)
        # torchvision's ColorJitter formulas (adjust_brightness, adjust_contrast, adjust_saturation), each result
        # clamped to 0-255; rounded to uint8 once at the end.
        if self.brightness != 1.0:
            pixels = (pixels * self.brightness).clamp(0, 255)
        if self.contrast != 1.0:
            mean = _gray(pixels).mean(dim=(1, 2), keepdim=True)  # each frame's mean gray level
            pixels = (self.contrast * pixels + (1 - self.contrast) * mean).clamp(0, 255)
        if self.saturation != 1.0:
            pixels = (self.saturation * pixels + (1 - self.saturation) * _gray(pixels)).clamp(0, 255)
        return pixels.round().to(torch.uint8).numpy()


def _gray(pixels):
    """ITU-R 601 luma of (..., 3) RGB values, keeping a last axis of 1 (torchvision's rgb_to_grayscale weights)."""
    return pixels[..., :1] * 0.2989 + pixels[..., 1:2] * 0.587 + pixels[..., 2:3] * 0.114


def _shifted(pixels, dy: int, dx: int):
    """(frames, H, W, C) moved by dy rows and dx columns; what comes in from outside is 0 (black)."""
    import torch

    out = torch.zeros_like(pixels)
    height, width = pixels.shape[1:3]
    if abs(dy) >= height or abs(dx) >= width:
        return out
    out[:, max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = pixels[
        :, max(-dy, 0) : height - max(dy, 0), max(-dx, 0) : width - max(dx, 0)
    ]
    return out


def draw_face_transform(config: AugmentConfig, size: int, generator=None) -> FaceTransform:
    """A random FaceTransform for one clip of `size` x `size` crops."""
    import torch

    def uniform(low, high):
        """A number drawn uniformly from [low, high) with the given generator."""
        return float(low + (high - low) * torch.rand((), generator=generator))

    flip = bool(config.horizontal_flip) and bool(torch.rand((), generator=generator) < config.horizontal_flip)
    most = int(round(config.face_shift * size))
    shift_y, shift_x = torch.randint(-most, most + 1, (2,), generator=generator).tolist() if most else (0, 0)
    factors = [uniform(1 - x, 1 + x) if x else 1.0 for x in (config.brightness, config.contrast, config.saturation)]
    return FaceTransform(flip, int(shift_y), int(shift_x), *factors)


def augment_faces(crops: np.ndarray, config: AugmentConfig, generator=None) -> np.ndarray:
    """One clip's (frames, S, S, 3) uint8 crops with one random FaceTransform applied to every frame."""
    crops = np.asarray(crops, dtype=np.uint8)
    if not config.changes_faces or len(crops) == 0:
        return crops
    return draw_face_transform(config, crops.shape[1], generator).apply(crops)


# ------------------------------------------------------------------------------------------------------ audio


def roll_waveform(waveform: np.ndarray, samples: int) -> np.ndarray:
    """The waveform moved `samples` later (negative: earlier), what falls off one end coming in at the other."""
    return np.roll(waveform, samples) if len(waveform) and samples else waveform


def augment_waveform(waveform: np.ndarray, config: AugmentConfig, sampling_rate: int, generator=None) -> np.ndarray:
    """The waveform rolled by a random whole number of samples within +-`time_shift_seconds`."""
    import torch

    most = int(round(config.time_shift_seconds * sampling_rate))
    if not most or len(waveform) == 0:
        return waveform
    return roll_waveform(waveform, int(torch.randint(-most, most + 1, (), generator=generator)))


def feature_mask(config: AugmentConfig, bins: int, frames: int):
    """A random (bins, frames) boolean tensor, True where SpecAugment masks one clip of `frames` real frames:
    `time_masks` bands of time columns and `freq_masks` bands of feature rows, drawn by torchaudio (widths from
    0 to the set maximum, each time band also under `time_mask_max_share` of the frames)."""
    import torch
    from torchaudio.transforms import FrequencyMasking, TimeMasking

    kept = torch.ones(1, bins, frames)
    if config.time_masks and config.time_mask_frames:
        # torchaudio draws widths in [0, mask_param): +1 makes time_mask_frames itself possible.
        masking = TimeMasking(config.time_mask_frames + 1, p=config.time_mask_max_share)
        for _ in range(config.time_masks):
            kept = masking(kept)
    if config.freq_masks and config.freq_mask_bins:
        masking = FrequencyMasking(config.freq_mask_bins + 1)
        for _ in range(config.freq_masks):
            kept = masking(kept)
    return kept[0] == 0


def mask_features(input_features, audio_mask, config: AugmentConfig):
    """SpecAugment on a batch of extractor outputs: (batch, planes, bins, time) features and (batch, time) masks
    whose real frames come first. Returns new features; padded frames and clips without audio are unchanged."""
    import torch

    if not config.masks_features:
        return input_features
    features = input_features.clone()
    for row in range(features.shape[0]):
        length = int(audio_mask[row].sum())
        if length == 0:
            continue
        real = features[row, :, :, :length]
        masked = feature_mask(config, real.shape[1], length).to(real.device)
        mean = real.mean(dim=(1, 2), keepdim=True)  # each plane's mean over the real frames
        features[row, :, :, :length] = torch.where(masked, mean, real)
    return features


__all__ = [
    "AugmentConfig",
    "FaceTransform",
    "augment_faces",
    "augment_waveform",
    "draw_face_transform",
    "feature_mask",
    "mask_features",
    "roll_waveform",
]
