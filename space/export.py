"""`avemo space --export DIR`: a Space repository that runs on Hugging Face Spaces as it is.

A Space installs `requirements.txt` and runs `python app.py`; avemo is not on PyPI, so the export carries it:

    DIR/app.py               the app (this package's app.py)
    DIR/README.md            Spaces front matter (sdk: gradio, sdk_version, app_file, models, ...) and a description
    DIR/requirements.txt     avemo's dependencies (Gradio itself comes from sdk_version)
    DIR/avemo/, DIR/modeling_avemo/    avemo's code, imported from beside app.py (with the shipped model inside;
                             of this package, what app.py imports: avemo/space/options.py)
    DIR/avemo_space.json     the model to load: "model" (a local --model, exported into DIR/model), a hub id, or null
    DIR/model/               a local --model, written by `avemo export` (weights, code, card)
    DIR/examples/            the example media found (see app.find_examples_dir), with their credits in README.md
"""

import importlib
import json
import shutil
from os import PathLike
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPACE_FILES = ("app.py", "README.md", "requirements.txt")
_VENDORED_SUBPACKAGES = ("processing", "hub_card")  # beside avemo/ in a source checkout, inside it once installed
# What app.py imports of its own package; the rest (app.py itself, this exporter) stays out of DIR/avemo/space.
SPACE_MODULES = ("__init__.py", "options.py")


class SpaceExportError(ValueError):
    """The Space folder cannot be written; the message names it."""


def _copy_package(source: Path, target: Path, skip: tuple[str, ...] = ()) -> None:
    def ignore(folder, names):
        ignored = {name for name in names if name == "__pycache__" or name.endswith((".pyc", ".egg-info"))}
        if Path(folder) == source:
            ignored |= {name for name in names if name in skip}
        return ignored

    shutil.copytree(source, target, ignore=ignore)


def vendor_avemo(output: Path) -> None:
    """Copy the avemo and modeling_avemo packages (as imported now, installed or from a checkout) into `output`."""
    import avemo
    import modeling_avemo

    avemo_dir = Path(avemo.__file__).resolve().parent
    _copy_package(avemo_dir, output / "avemo", skip=("space",))
    for name in _VENDORED_SUBPACKAGES:
        target = output / "avemo" / name
        if not target.exists():  # a source checkout keeps them beside avemo/
            module = importlib.import_module(f"avemo.{name}")
            _copy_package(Path(module.__file__).resolve().parent, target)
    (output / "avemo" / "space").mkdir()
    for name in SPACE_MODULES:
        shutil.copy2(HERE / name, output / "avemo" / "space" / name)
    _copy_package(Path(modeling_avemo.__file__).resolve().parent, output / "modeling_avemo")


def _is_hub_id(model: str) -> bool:
    from avemo.model_folders.pretrained import PRETRAINED_MODELS

    return not Path(model).exists() and model not in PRETRAINED_MODELS


def _copy_examples(examples: Path | None, output: Path, log) -> None:
    """Copy the Space's example media found in `examples` into `output`/examples and log how many; None (no
    folder of examples found) is logged as such."""
    from .app import EXAMPLE_IMAGES, EXAMPLE_VIDEOS

    copied = []
    if examples is not None:
        for name in EXAMPLE_VIDEOS + EXAMPLE_IMAGES:
            if (examples / name).is_file():
                (output / "examples" / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(examples / name, output / "examples" / name)
                copied.append(name)
        log(f"copied {len(copied)} example files from {examples}")
    else:
        log("no example media found (set AVEMO_EXAMPLES_DIR): the Space will have no examples")


def export_space(
    output: str | PathLike,
    model: str | PathLike | None = None,
    overwrite: bool = False,
    max_seconds: float | None = None,
    max_mb: float | None = None,
    examples_dir: str | PathLike | None = None,
    log=None,
) -> list[str]:
    """Write a Space repository to `output`; returns its files (relative paths)."""
    from huggingface_hub import SpaceCard

    from .app import find_examples_dir

    log = log or (lambda message: None)
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        if not overwrite:
            raise SpaceExportError(f"{output}: already holds files; choose another folder or pass --overwrite")
        if not (output / "avemo_space.json").is_file():
            raise SpaceExportError(
                f"{output}: --overwrite only replaces an earlier Space export (no avemo_space.json there)"
            )
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)

    for name in SPACE_FILES:
        shutil.copy2(HERE / name, output / name)
    vendor_avemo(output)
    settings = {"model": None}
    card = SpaceCard.load(output / "README.md")
    if model is not None and _is_hub_id(str(model)):
        settings["model"] = str(model)
        card.data.models = [str(model)]
        log(f"the Space loads {model} from the hub at start")
    elif model is not None:
        from avemo.hub_card import export_model
        from avemo.model_folders.loading import resolve_model

        export_model(resolve_model(model), output / "model", log=log)
        settings["model"] = "model"
        log(f"exported {model} into {output / 'model'}")
    if max_seconds:
        settings["max_seconds"] = max_seconds
    if max_mb:
        settings["max_mb"] = max_mb
    (output / "avemo_space.json").write_text(json.dumps(settings, indent=2) + "\n")

    examples = Path(examples_dir) if examples_dir else find_examples_dir()
    _copy_examples(examples, output, log)
    card.save(output / "README.md")
    return sorted(str(path.relative_to(output)) for path in output.rglob("*") if path.is_file())
