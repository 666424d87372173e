"""Model folders: what `avemo init` writes and what every other tool loads.

A folder holds `config.json` (with `auto_map`), `model.safetensors`, `processor_config.json` and the remote-code
files, so it loads with the Auto classes and `trust_remote_code=True` where avemo is not installed.
"""

import json
from os import PathLike
from pathlib import Path

from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification, load_alexnet_weights, load_ir50_weights, load_resnet18_weights
from modeling_avemo.backbone_import import BackboneWeightsError


class ModelFolderError(ValueError):
    """A model folder cannot be written or read; the message names the path and the problem."""


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


def processor_for(config: AVEmoConfig, **processor_kwargs):
    """The processor matching a model config (face size, modalities, spectrogram height)."""
    from avemo.processing import AVEmoFeatureExtractor, AVEmoProcessor

    extractor_kwargs = {}
    if config.num_mel_bins != 128:
        extractor_kwargs["num_mel_bins"] = config.num_mel_bins
    return AVEmoProcessor(
        AVEmoFeatureExtractor(**extractor_kwargs),
        face_size=config.face_size,
        modalities=config.modalities,
        **processor_kwargs,
    )


def init_model_folder(
    output: str | PathLike,
    config: AVEmoConfig | None = None,
    ir50: str | PathLike | None = None,
    alexnet: str | PathLike | None = None,
    resnet18: str | PathLike | None = None,
    overwrite: bool = False,
    seed: int = 0,
    **processor_kwargs,
) -> Path:
    """Write a complete model folder from a config, optionally with pretrained backbones.

    The folder is marked `trained: false` in its config: its classifier is random until `avemo train` fits it.
    """
    import torch

    output = Path(output)
    if (output / "config.json").exists() and not overwrite:
        raise ModelFolderError(f"{output}: already holds a model (config.json); choose another folder or overwrite")
    config = config if config is not None else AVEmoConfig()
    config.trained = False
    torch.manual_seed(seed)
    model = AVEmoForVideoClassification(config)
    try:
        if ir50 is not None:
            load_ir50_weights(model, ir50)
        if resnet18 is not None:
            load_resnet18_weights(model, resnet18)
        if alexnet is not None:
            load_alexnet_weights(model, alexnet)
    except BackboneWeightsError as error:
        raise ModelFolderError(str(error)) from error
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    processor_for(config, **processor_kwargs).save_pretrained(output)
    return output
