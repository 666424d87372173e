"""Hub repositories for avemo models: `avemo export` writes one, `avemo push` uploads it.

A hub folder holds exactly: `config.json` (with `auto_map`), the safetensors weights, `processor_config.json`
(with its `auto_map`), the remote-code `*.py` files that `save_pretrained` writes, and the model card as
`README.md`. Nothing else: no pickles (`training_args.bin`, optimizer or scheduler state), no checkpoints, no
caches. The model and processor are loaded and saved again, so only what `save_pretrained` writes ever gets in.
"""

import fnmatch
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path

# What a hub folder may hold (fnmatch patterns on file names; no sub-folders).
ALLOWED_FILES = (
    "config.json",
    "processor_config.json",
    "README.md",
    "*.py",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*-of-*.safetensors",
)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")


class HubFolderError(ValueError):
    """A hub folder cannot be written or is not a complete, clean avemo hub folder; the message names it."""


def _auto_map_problems(folder: Path, file_name: str, wanted: tuple[str, ...]) -> list[str]:
    import json

    try:
        settings = json.loads((folder / file_name).read_text())
    except (OSError, ValueError) as error:
        return [f"{file_name} cannot be read ({error})"]
    auto_map = settings.get("auto_map") or {}
    problems = [f"{file_name} has no auto_map entry for {name}" for name in wanted if name not in auto_map]
    # Pipelines registered by the remote code (config.custom_pipelines) need their module too.
    for task, pipeline in (settings.get("custom_pipelines") or {}).items():
        module = str((pipeline or {}).get("impl", "")).split("--")[-1].rsplit(".", 1)[0]
        if module and not (folder / f"{module}.py").is_file():
            problems.append(f"{file_name}'s custom pipeline for {task} needs {module}.py, which is missing")
    for name, target in auto_map.items():
        targets = target if isinstance(target, (list, tuple)) else [target]
        for entry in filter(None, targets):
            module = entry.split("--")[-1].rsplit(".", 1)[0]
            if not (folder / f"{module}.py").is_file():
                problems.append(f"{file_name}'s auto_map {name} -> {entry} needs {module}.py, which is missing")
    return problems


def check_hub_folder(folder: str | PathLike) -> list[str]:
    """The files of a complete, clean hub folder (sorted); raises `HubFolderError` listing every problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HubFolderError(f"{folder}: not a folder")
    names, problems = [], []
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            problems.append(f"{path.name}/: a sub-folder (checkpoints, caches) does not belong in a hub folder")
        elif path.suffix.lower() in PICKLE_SUFFIXES:
            problems.append(f"{path.name}: a pickle or checkpoint file, never uploaded (weights go in safetensors)")
        elif not any(fnmatch.fnmatchcase(path.name, pattern) for pattern in ALLOWED_FILES):
            problems.append(f"{path.name}: not part of a model repository (allowed: {', '.join(ALLOWED_FILES)})")
        else:
            names.append(path.name)
    for required in ("config.json", "processor_config.json", "README.md"):
        if required not in names:
            problems.append(f"{required} is missing")
    if "model.safetensors" not in names and "model.safetensors.index.json" not in names:
        problems.append("model.safetensors is missing")
    if "config.json" in names:
        problems += _auto_map_problems(folder, "config.json", ("AutoConfig", "AutoModelForVideoClassification"))
    if "processor_config.json" in names:
        problems += _auto_map_problems(folder, "processor_config.json", ("AutoProcessor",))
    if problems:
        raise HubFolderError(f"{folder}: not a clean avemo hub folder:\n  " + "\n  ".join(problems))
    return names


def replaceable(output: Path, overwrite: bool, check=None, error: type = HubFolderError, what: str = "export") -> None:
    """Refuse to write into `output` unless it does not exist, is an empty folder, or, with `overwrite`, holds an
    earlier `what` that `check` accepts (an avemo hub folder by default); raises `error` saying which. For
    `avemo export` and `avemo export --onnx` alike."""
    check = check or check_hub_folder
    if not output.exists():
        return
    if not output.is_dir():
        raise error(f"{output}: exists and is not a folder")
    if not any(output.iterdir()):
        return
    if not overwrite:
        raise error(f"{output}: already holds files; choose another folder or pass --overwrite")
    try:
        check(output)
    except error as problem:
        lines = str(problem).splitlines()
        detail = lines[1].strip() if len(lines) > 1 else lines[0].split(": ", 1)[-1]
        raise error(
            f"{output}: --overwrite only replaces an earlier {what}, and this folder holds other files ({detail})"
        ) from problem


def give_usual_permissions(folder: Path) -> None:
    """Give a staged folder and its files the usual permissions (the umask's): mkdtemp makes a private folder, and some
    writers private files."""
    import os

    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)


@contextmanager
def staged_folder(output: Path) -> Iterator[Path]:
    """Yields a new private folder beside `output` to write an export into. When the block ends without an error the
    folder gets the usual permissions and takes `output`'s place (replacing it); otherwise it is removed, so a
    half-written export never replaces a good one."""
    output.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        yield stage
        give_usual_permissions(stage)
        if output.exists():
            shutil.rmtree(output)
        stage.rename(output)
    finally:
        if stage.exists():
            shutil.rmtree(stage)


def export_model(
    model: str | PathLike | None,
    output: str | PathLike,
    metrics: str | PathLike | None = None,
    repo_id: str | None = None,
    overwrite: bool = False,
    log=None,
) -> list[str]:
    """Write the hub folder of `model` (a model folder, a shipped model's name or a hub id; None: the default
    shipped model) into `output`, with its model card (model-index from `metrics`, an `avemo evaluate` JSON).
    Returns the file names written."""
    from avemo.model_folders.loading import load_model_folder

    from .card import build_model_card

    log = log or (lambda message: None)
    output = Path(output)
    replaceable(output, overwrite)
    loaded = load_model_folder(model)
    model, processor = loaded.model, loaded.processor
    for warning in loaded.warnings:
        log(warning)
    with staged_folder(output) as stage:
        model.save_pretrained(stage)
        processor.save_pretrained(stage)
        # Without a hub id, the card's usage examples load the folder by its own name, as a local path.
        card = build_model_card(
            stage,
            metrics=metrics,
            repo_id=repo_id or f"./{output.name}",
            model_name=output.name if repo_id is None else None,
        )
        card.save(stage / "README.md")
        files = check_hub_folder(stage)
    return files


def push_folder(
    folder: str | PathLike,
    repo_id: str,
    private: bool = False,
    dry_run: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
) -> dict:
    """Upload a hub folder (checked first: exactly the files `check_hub_folder` allows) to the model repository
    `repo_id`, creating it when needed. With `dry_run`, only say what would be sent.

    Returns {"repo_id", "files" (name -> bytes), "url" (None on a dry run)}."""
    folder = Path(folder)
    files = check_hub_folder(folder)
    plan = {"repo_id": repo_id, "files": {name: (folder / name).stat().st_size for name in files}, "url": None}
    if dry_run:
        return plan
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    commit = api.upload_folder(
        repo_id=repo_id,
        repo_type="model",
        folder_path=str(folder),
        allow_patterns=files,
        commit_message=commit_message or f"Upload avemo model ({len(files)} files)",
    )
    plan["url"] = getattr(commit, "commit_url", None) or str(commit)
    return plan
