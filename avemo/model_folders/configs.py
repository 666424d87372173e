"""Model configs from files, and the processor a config takes: what `avemo init --config`, `avemo train --config`
and every tool that meets a folder without `processor_config.json` use."""

import json
from os import PathLike
from pathlib import Path

from modeling_avemo import AVEmoConfig


class ModelFolderError(ValueError):
    """A model folder or config file cannot be written or read; the message names the path and the problem."""


def read_config_file(path: str | PathLike) -> AVEmoConfig:
    """An AVEmoConfig from a JSON file of its fields (a saved config.json works too)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFolderError(f"{path}: config file not found")
    try:
        fields = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFolderError(f"{path}: not a JSON config ({error})") from error
    if not isinstance(fields, dict):
        raise ModelFolderError(f"{path}: a config file holds a JSON object of AVEmoConfig fields")
    for key in ("auto_map", "architectures", "transformers_version", "model_type"):
        fields.pop(key, None)
    try:
        return AVEmoConfig(**fields)
    except (ValueError, TypeError) as error:
        raise ModelFolderError(f"{path}: {error}") from error


def default_processor(config: AVEmoConfig, **processor_kwargs):
    """The processor a model of this config takes: its face recipe and modalities, and the feature extractor that
    makes spectrograms of its height. `processor_kwargs` (num_frames, ...) go to the processor."""
    from avemo.processing import AVEmoFeatureExtractor, AVEmoProcessor

    extractor_kwargs = {}
    if config.audio_features == "spectrogram":
        extractor_kwargs["feature_type"] = "spectrogram"  # 1024-point FFT: num_mel_bins (513) high
    elif config.num_mel_bins != 128:
        extractor_kwargs["num_mel_bins"] = config.num_mel_bins
    return AVEmoProcessor(
        AVEmoFeatureExtractor(**extractor_kwargs),
        face_recipe=config.face_recipe,
        modalities=config.modalities,
        **processor_kwargs,
    )
