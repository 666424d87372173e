"""Loading a model: where it comes from (`resolve_model`: a model folder, a shipped model's name or a hub id), and
the one way every avemo tool loads a model with its processor (`load_model_folder`), with one-line errors that name
the file at fault.

    loaded = load_model_folder("runs/ravdess/best")   # or "fer2013-faces", "user/avemo-ravdess", None (the default)
    loaded.model, loaded.processor, loaded.warnings
"""

import difflib
import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from avemo.model_folders.pretrained import PRETRAINED_MODELS, pretrained_path


class ModelLoadError(ValueError):
    """A model folder or hub id cannot be loaded; the message names it (and the file at fault)."""


class ModelNotFoundError(ModelLoadError):
    """A model folder does not exist or is not a model folder, and the name is no shipped model or hub id."""


@dataclass
class LoadedModel:
    """A model with the processor that makes its inputs, and what to tell the user about the pair."""

    model: object  # AVEmoForVideoClassification, in eval mode
    processor: object  # AVEmoProcessor
    source: str  # where it was loaded from (a folder or a hub id)
    warnings: list[str] = field(default_factory=list)


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


def load_model(model: str | PathLike | None):
    """The `AVEmoForVideoClassification` of a model folder, a shipped model's name or a hub id (None: the default
    shipped model), in eval mode (as from_pretrained leaves it). Raises `ModelLoadError` naming the folder or file
    that cannot be used."""
    from modeling_avemo import AVEmoForVideoClassification

    source = resolve_model(model)
    try:
        return AVEmoForVideoClassification.from_pretrained(source)
    except Exception as error:  # noqa: BLE001 (json, safetensors, hub and shape errors all end here)
        raise ModelLoadError(_load_problem(source, error)) from error


def load_model_folder(model: str | PathLike | None) -> LoadedModel:
    """A model and its processor (the folder's `processor_config.json`, else the default processor for the model's
    config, with a warning). Raises `ModelLoadError` when either cannot be loaded, or when the processor makes faces
    of another size or colour than the model takes; a processor whose face recipe only differs from the one the
    weights expect is a warning."""
    from avemo.model_folders.configs import default_processor
    from avemo.processing import AVEmoProcessor
    from modeling_avemo import face_recipe

    source = resolve_model(model)
    loaded = load_model(source)
    warnings = []
    if Path(source, "processor_config.json").is_file() or not Path(source).is_dir():
        try:
            processor = AVEmoProcessor.from_pretrained(source)
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"{source}: cannot load its processor ({first_line(error)})") from error
    else:
        processor = default_processor(loaded.config)
        warnings.append("the model folder has no processor_config.json: the default processor for its config is used")
    config = loaded.config
    if config.uses_visual and processor.face_recipe != config.face_recipe:
        ours, theirs = processor.recipe, face_recipe(config.face_recipe)
        if (ours.size, ours.channels) != (theirs.size, theirs.channels):
            raise ModelLoadError(
                f"{source}: the processor makes {ours.size}px {ours.color} faces ({ours.name!r}) but the model "
                f"takes {theirs.size}px {theirs.color} faces ({theirs.name!r})"
            )
        warnings.append(f"the processor prepares faces as {ours.name!r} but the model's weights expect {theirs.name!r}")
    return LoadedModel(loaded, processor, source, warnings)


def _load_problem(source: str, error: Exception) -> str:
    """One line naming the file that could not be used."""
    folder = Path(source)
    message = first_line(error)
    if folder.is_dir():
        if (
            "safetensors" in type(error).__module__.lower()
            or "Safetensor" in type(error).__name__
            or "deserializ" in message
        ):
            return f"{folder / 'model.safetensors'}: corrupt or truncated weights ({message})"
        if "JSON" in message or "json" in message:
            return f"{folder / 'config.json'}: not a valid JSON config ({message})"
        return f"{source}: cannot load an avemo model ({type(error).__name__}: {message})"
    if "connect" in message or "offline" in message.lower():
        return (
            f"{source}: not a local folder or shipped model, and the hub cannot be reached to download it ({message})"
        )
    return f"{source}: cannot load an avemo model ({message})"


def first_line(error: Exception) -> str:
    """The first line of an error's message (its type's name when the message is empty), for one-line reports."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
