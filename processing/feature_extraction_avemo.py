"""Audio front end (METHOD.md section 2): waveform -> [log-mel, delta, delta-delta] "image" for AlexNet.

Definition (every number is a field of the extractor and is saved with it):
- resample to `sampling_rate` (16 kHz);
- Hamming window of `win_length` samples (40 ms), hop `hop_length` (10 ms), FFT size `n_fft`; frames centred on
  t * hop with reflect padding at both ends of each clip (librosa's `center=True, pad_mode="reflect"`);
- power spectrum -> `num_mel_bins` Slaney mel filters between `f_min` and `f_max` (librosa's defaults), or the
  plain power spectrogram with `feature_type="spectrogram"`;
- 10 log10(max(power, 1e-10)) (dB);
- delta = least-squares slope over `delta_window` frames with the edge frames repeated (librosa
  `feature.delta(width=delta_window, mode="nearest")`), delta-delta = delta of the delta;
- `normalize="clip"`: each of the three planes scaled to zero mean and unit variance over the clip's real
  frames; `"none"` keeps dB.
Batches are right-padded with zeros and `audio_mask` marks the real frames. Every clip is padded to at least
`min_frames` (AlexNet's receptive field). Tensors on a GPU are processed there.
"""

import numpy as np
from transformers import BatchFeature, SequenceFeatureExtractor
from transformers.utils import logging

from .padding_avemo import clip_inputs, pad_clips

logger = logging.get_logger(__name__)

FEATURE_TYPES = ("log_mel", "spectrogram")
NORMALIZATIONS = ("clip", "none")


class AVEmoFeatureExtractor(SequenceFeatureExtractor):
    model_input_names = ["input_features", "audio_mask"]

    def __init__(
        self,
        feature_type: str = "log_mel",
        sampling_rate: int = 16000,
        num_mel_bins: int = 128,
        n_fft: int = 1024,
        win_length: int = 640,
        hop_length: int = 160,
        f_min: float = 0.0,
        f_max: float | None = 8000.0,
        delta_window: int = 5,
        normalize: str = "clip",
        min_frames: int = 63,
        silence_threshold: float = 1e-4,
        padding_value: float = 0.0,
        **kwargs,
    ):
        if feature_type not in FEATURE_TYPES:
            raise ValueError(f"feature_type={feature_type!r} is not valid; allowed values: {FEATURE_TYPES}")
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize={normalize!r} is not valid; allowed values: {NORMALIZATIONS}")
        if win_length > n_fft:
            raise ValueError(f"win_length={win_length} must not exceed n_fft={n_fft}")
        kwargs.pop("feature_size", None)  # derived, but saved with the config
        feature_size = num_mel_bins if feature_type == "log_mel" else n_fft // 2 + 1
        super().__init__(feature_size=feature_size, sampling_rate=sampling_rate, padding_value=padding_value, **kwargs)
        self.feature_type = feature_type
        self.num_mel_bins = num_mel_bins
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        self.f_min = f_min
        self.f_max = f_max
        self.delta_window = delta_window
        self.normalize = normalize
        self.min_frames = min_frames
        self.silence_threshold = silence_threshold

    def num_frames(self, num_samples: int) -> int:
        """Spectrogram frames of a waveform of `num_samples` samples (centred framing)."""
        return 1 + num_samples // self.hop_length if num_samples > 0 else 0

    def is_silent(self, waveform) -> bool:
        """True for an empty or digitally silent waveform (peak below `silence_threshold`)."""
        waveform = np.asarray(waveform.cpu() if hasattr(waveform, "cpu") else waveform)
        return waveform.size == 0 or float(np.abs(waveform).max()) < self.silence_threshold

    def __call__(
        self,
        raw_speech,
        sampling_rate: int | None = None,
        return_tensors: str | None = None,
        **kwargs,
    ) -> BatchFeature:
        """Features of one waveform or a batch.

        Args:
            raw_speech: a 1-D array / tensor (one clip), or a list of them, or a 2-D array (batch, samples).
                An empty waveform gives an all-zero `audio_mask` (a clip without audio).
            sampling_rate: rate of `raw_speech`; other rates are resampled to `self.sampling_rate`.
            return_tensors: "pt" or "np" (default: NumPy arrays).
        """
        import torch

        if sampling_rate is None:
            logger.warning(
                f"sampling_rate was not given to {self.__class__.__name__}; assuming {self.sampling_rate} Hz. "
                "Pass it to avoid silently wrong features."
            )
            sampling_rate = self.sampling_rate
        if not isinstance(sampling_rate, int) or sampling_rate <= 0:
            raise ValueError(f"sampling_rate must be a positive integer; got {sampling_rate!r}")
        waveforms = _as_waveform_list(raw_speech)
        for index, waveform in enumerate(waveforms):
            values = (
                waveform
                if isinstance(waveform, torch.Tensor)
                else torch.as_tensor(np.asarray(waveform, dtype=np.float32))
            )
            bad = int((~torch.isfinite(values)).sum())
            if bad:
                raise ValueError(f"waveform {index} holds {bad} NaN or infinite samples; clean or clip it first")
        features, lengths = self.extract(waveforms, sampling_rate)
        time = torch.arange(features.shape[-1], device=features.device)
        audio_mask = (time[None, :] < lengths[:, None]).long()
        outputs = BatchFeature({"input_features": features, "audio_mask": audio_mask})
        if return_tensors == "pt":
            return outputs
        if return_tensors not in (None, "np"):
            raise ValueError(f"return_tensors={return_tensors!r} is not supported; use 'pt' or 'np'")
        return BatchFeature({key: value.cpu().numpy() for key, value in outputs.items()})

    def pad(
        self,
        processed_features,
        padding: bool | str = True,
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
    ) -> BatchFeature:
        """Batch features this extractor made clip by clip (the `DataCollatorWithPadding` path): `input_features`
        (3, feature_size, time) zero-padded along time, exactly as a batched `__call__` pads them, and `audio_mask`
        0 on the padding. (SequenceFeatureExtractor.pad would pad these along the wrong axis.)

        Args:
            processed_features: a list of mappings with `input_features` and `audio_mask` (a leading batch axis of 1
                is accepted), or one mapping of such lists or of batched arrays.
            padding: True or "longest" (the longest clip, at least `min_frames`), "max_length" (`max_length`
                frames), False or "do_not_pad" (the clips must be equally long already).
            max_length: frames for padding="max_length" and truncation; at least `min_frames`.
            truncation: cut clips longer than `max_length` (without it, padding="max_length" refuses them).
            pad_to_multiple_of: round the padded length up to a multiple of this.
            return_attention_mask: False leaves `audio_mask` out.
            return_tensors: "pt" or "np" (default: NumPy arrays).

        Returns a BatchFeature.
        """
        rows = clip_inputs(_feature_list(processed_features), ("input_features", "audio_mask"))
        if not rows:
            raise ValueError("pad needs at least one feature")
        length = self._padded_length([int(row["input_features"].shape[-1]) for row in rows], padding, max_length)
        if truncation:
            if max_length is None:
                raise ValueError("truncation=True needs max_length")
            length = min(length, max_length)
        elif padding == "max_length" and length > max_length:
            raise ValueError(f"a clip has {length} frames, more than max_length={max_length}; pass truncation=True")
        if pad_to_multiple_of:
            length = -(-length // pad_to_multiple_of) * pad_to_multiple_of
        values, mask = pad_clips(rows, "input_features", "audio_mask", length)
        outputs = {"input_features": values}
        if return_attention_mask is not False:
            outputs["audio_mask"] = mask
        if return_tensors == "pt":
            return BatchFeature(outputs)
        if return_tensors not in (None, "np"):
            raise ValueError(f"return_tensors={return_tensors!r} is not supported; use 'pt' or 'np'")
        return BatchFeature({key: value.numpy() for key, value in outputs.items()})

    def _padded_length(self, lengths: list[int], padding, max_length: int | None) -> int:
        """The frame count `pad` pads to before truncation and rounding; a ValueError for settings that cannot
        hold."""
        if max_length is not None and max_length < self.min_frames:
            raise ValueError(f"max_length={max_length} is below min_frames={self.min_frames} (AlexNet's field)")
        if padding in (True, "longest"):
            return max(max(lengths), self.min_frames)
        if padding == "max_length":
            if max_length is None:
                raise ValueError('padding="max_length" needs max_length')
            return max(max(lengths), max_length)
        if padding in (False, "do_not_pad"):
            if len(set(lengths)) > 1:
                raise ValueError(f"clips of {sorted(set(lengths))} frames cannot be stacked unpadded; use padding=True")
            return lengths[0]
        raise ValueError(f"padding={padding!r} is not valid; use True, 'longest', 'max_length' or False")

    def extract(self, waveforms: list, sampling_rate: int):
        """Batched features: (batch, 3, feature_size, time) float32 and the real frame count of each clip."""
        import torch
        import torchaudio

        device = next((w.device for w in waveforms if isinstance(w, torch.Tensor)), torch.device("cpu"))
        tensors = [
            torch.as_tensor(np.asarray(w) if not isinstance(w, torch.Tensor) else w, dtype=torch.float32).to(device)
            for w in waveforms
        ]
        if sampling_rate != self.sampling_rate:
            tensors = [resample(w, sampling_rate, self.sampling_rate) for w in tensors]
        lengths = torch.tensor([self.num_frames(w.numel()) for w in tensors], device=device)
        half = self.n_fft // 2
        padded = []
        for waveform in tensors:
            # Each clip is centre-padded on its own, so batching never changes a clip's frames.
            mode = "reflect" if waveform.numel() > half else "constant"
            padded.append(torch.nn.functional.pad(waveform[None, None], (half, half), mode=mode)[0, 0])
        batch = torch.nn.utils.rnn.pad_sequence(padded, batch_first=True)
        total_frames = max(int(lengths.max()) if len(lengths) else 0, 1)
        needed = (total_frames - 1) * self.hop_length + self.n_fft
        if batch.shape[-1] < needed:
            batch = torch.nn.functional.pad(batch, (0, needed - batch.shape[-1]))
        window = torch.hamming_window(self.win_length, periodic=True, device=device)
        spectrum = (
            torch.stft(
                batch, self.n_fft, self.hop_length, self.win_length, window=window, center=False, return_complex=True
            )
            .abs()
            .pow(2)[..., :total_frames]
        )
        if self.feature_type == "log_mel":
            filters = torchaudio.functional.melscale_fbanks(
                self.n_fft // 2 + 1,
                self.f_min,
                self.f_max if self.f_max is not None else self.sampling_rate / 2,
                self.num_mel_bins,
                self.sampling_rate,
                norm="slaney",
                mel_scale="slaney",
            ).to(device)
            spectrum = torch.einsum("bft,fm->bmt", spectrum, filters)
        static = 10.0 * torch.log10(spectrum.clamp_min(1e-10))
        static = _repeat_last_frame(static, lengths)
        delta = _repeat_last_frame(
            torchaudio.functional.compute_deltas(static, self.delta_window, mode="replicate"), lengths
        )
        delta2 = torchaudio.functional.compute_deltas(delta, self.delta_window, mode="replicate")
        features = torch.stack([static, delta, delta2], dim=1)
        valid = (torch.arange(total_frames, device=device)[None, :] < lengths[:, None])[:, None, None, :]
        if self.normalize == "clip":
            count = (lengths.clamp_min(1) * features.shape[2]).to(features.dtype)[:, None]
            mean = (features * valid).sum((2, 3)) / count
            variance = (((features - mean[..., None, None]) * valid) ** 2).sum((2, 3)) / count
            features = (features - mean[..., None, None]) / variance.sqrt().clamp_min(1e-5)[..., None, None]
        features = features * valid
        if features.shape[-1] < self.min_frames:
            features = torch.nn.functional.pad(features, (0, self.min_frames - features.shape[-1]))
        return features.float(), lengths


def resample(waveform, orig_rate: int, new_rate: int):
    """The one resampler of avemo: torchaudio's band-limited sinc interpolation (its defaults), used alike for audio
    decoded from files and for waveforms passed as arrays, so that both give the same features. Takes and returns
    a NumPy array or a torch tensor (on its device)."""
    import torch
    import torchaudio

    if orig_rate == new_rate or len(waveform) == 0:
        return waveform
    if isinstance(waveform, torch.Tensor):
        return torchaudio.functional.resample(waveform, orig_rate, new_rate)
    tensor = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))
    return torchaudio.functional.resample(tensor, orig_rate, new_rate).numpy()


def _repeat_last_frame(values, lengths):
    """Frames past each clip's end take the value of its last frame: the edge the deltas see is then the same as
    for the clip alone."""
    import torch

    time = torch.arange(values.shape[-1], device=values.device)
    index = torch.minimum(time[None, :], (lengths - 1).clamp_min(0)[:, None])
    return values.gather(-1, index[:, None, :].expand_as(values))


def _feature_list(processed_features) -> list:
    """`pad`'s input as a list of per-clip mappings: a mapping of lists or batched arrays is split into clips."""
    if isinstance(processed_features, (list, tuple)):
        return list(processed_features)
    if hasattr(processed_features, "keys") and "input_features" in processed_features:
        keys = [key for key in ("input_features", "audio_mask") if processed_features.get(key) is not None]
        return [dict(zip(keys, values)) for values in zip(*(processed_features[key] for key in keys))]
    raise ValueError(
        "pad takes a list of mappings with input_features and audio_mask, or one mapping of them; "
        f"got {type(processed_features).__name__}"
    )


def _as_waveform_list(raw_speech) -> list:
    import torch

    if isinstance(raw_speech, (np.ndarray, torch.Tensor)):
        if raw_speech.ndim == 1:
            return [raw_speech]
        if raw_speech.ndim == 2:
            return list(raw_speech)
        raise ValueError(
            f"raw_speech must be 1-D (one clip) or 2-D (batch, samples); got shape {tuple(raw_speech.shape)}"
        )
    if isinstance(raw_speech, (list, tuple)):
        if raw_speech and all(isinstance(value, (int, float)) for value in raw_speech):
            return [np.asarray(raw_speech, dtype=np.float32)]
        waveforms = []
        for index, waveform in enumerate(raw_speech):
            shape = tuple(np.shape(waveform))
            if len(shape) != 1:
                raise ValueError(
                    f"waveform {index} must be 1-D mono samples; got shape {shape} (mix channels down first)"
                )
            waveforms.append(waveform)
        return waveforms
    raise ValueError(f"raw_speech must be an array, a tensor or a list of them; got {type(raw_speech).__name__}")


AVEmoFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")

__all__ = ["AVEmoFeatureExtractor"]
