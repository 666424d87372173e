"""ONNX export of an avemo classifier: `avemo export --onnx`.

    from avemo.hub_card.onnx_export import export_onnx
    export = export_onnx("runs/ravdess/best", "onnx/avemo-ravdess")     # export.max_difference: the check's result

The folder holds exactly three files:
- `model.onnx`: the classifier, graph and weights in one file (`torch.onnx.export(..., dynamo=True)`). Inputs, named
  as the model's and only those of its modalities: `pixel_values` (batch, frames, C, S, S) float32, `frame_mask`
  (batch, frames) int64, `input_features` (batch, 3, mel, time) float32, `audio_mask` (batch, time) int64; batch,
  frames and time are dynamic. Outputs: `logits` (batch, labels), and the pooling weights `visual_attentions`
  (batch, frames) and/or `audio_attentions` (batch, map rows, map columns).
- `config.json`: the model's config (labels, modalities, face recipe, provenance); no `auto_map`, since no code or
  safetensors weights come with it: the folder is for onnxruntime, not for `from_pretrained`.
- `processor_config.json`: `AVEmoProcessor.from_pretrained(folder)` makes the inputs from video files.

Input contract: the processor's outputs (clips of different lengths already padded into a batch, with their masks),
with audio of at least `MIN_DYNAMIC_AUDIO_FRAMES` (95 frames, 0.95 s): shorter audio must be padded with zeros under
a zero mask first (`modeling_avemo.export_avemo.pad_audio`), which changes no logit. `OnnxClassifier(folder)`
(onnx_runner.py) does it for you.

The graph is traced on synthetic inputs made from the config (two clips of the processor's frame count, 3 s of
audio, with padding), then checked before anything is written: onnxruntime (CPU) runs model.onnx on those, on other
shapes (one clip of one frame and 0.95 s; three clips, one without faces and one without audio) and on the clips
given as `example_videos` (through the processor), and its logits must be within `tolerance` (1e-4) of eager
PyTorch's. Otherwise `OnnxExportError` is raised and the output folder is left as it was.
"""

import json
import logging
import warnings
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from .onnx_runner import ONNX_FILE, OnnxClassifier, OnnxFolderError, require_onnx

FOLDER_FILES = (ONNX_FILE, "config.json", "processor_config.json")
DEFAULT_TOLERANCE = 1e-4
EXAMPLE_AUDIO_FRAMES = 300  # 3 s of log-mel frames (10 ms hop)


class OnnxExportError(RuntimeError):
    """The exporter failed, or onnxruntime's outputs differ from PyTorch's; nothing was written."""


@dataclass
class OnnxExport:
    """What `export_onnx` wrote and how well it matched: the max absolute logit difference of each check."""

    folder: Path
    files: list[str]
    differences: dict[str, float] = field(default_factory=dict)

    @property
    def max_difference(self) -> float:
        """The largest of the checks' max absolute logit differences."""
        return max(self.differences.values())


def check_onnx_folder(folder: str | PathLike) -> list[str]:
    """The files of an earlier ONNX export (sorted); raises `OnnxFolderError` naming anything else in it."""
    folder = Path(folder)
    names = sorted(path.name for path in folder.iterdir())
    others = [name + ("/" if (folder / name).is_dir() else "") for name in names if name not in FOLDER_FILES]
    if others:
        raise OnnxFolderError(f"{folder}: holds files that are not part of an ONNX export: {', '.join(others)}")
    if ONNX_FILE not in names:
        raise OnnxFolderError(f"{folder}: no {ONNX_FILE}, so not an earlier ONNX export")
    return names


def output_names(config) -> list[str]:
    """The graph's outputs: the logits, then the pooling weights of each modality the model uses."""
    names = ["logits"]
    if config.uses_visual:
        names.append("visual_attentions")
    if config.uses_audio:
        names.append("audio_attentions")
    return names


def _graph_module(model):
    """The classifier as a module of the graph's inputs and outputs (a tuple, named by `output_names`)."""
    import torch

    class ClassifierGraph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, pixel_values=None, frame_mask=None, input_features=None, audio_mask=None):
            output = self.model(
                pixel_values=pixel_values, frame_mask=frame_mask, input_features=input_features, audio_mask=audio_mask
            )
            return tuple(getattr(output, name) for name in output_names(self.model.config))

    return ClassifierGraph().eval()


def _synthetic_inputs(config, frames: int, audio_frames: int, clips: int, seed: int) -> dict:
    """Random inputs of the model's modalities; every clip after the first is padded (fewer faces, shorter audio)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    inputs = {}
    if config.uses_visual:
        size = config.face_size
        inputs["pixel_values"] = torch.randn(clips, frames, config.face_channels, size, size, generator=generator)
        inputs["frame_mask"] = torch.ones(clips, frames, dtype=torch.long)
        inputs["frame_mask"][1:, frames // 2 + 1 :] = 0
    if config.uses_audio:
        inputs["input_features"] = torch.randn(clips, 3, config.num_mel_bins, audio_frames, generator=generator)
        inputs["audio_mask"] = torch.ones(clips, audio_frames, dtype=torch.long)
        inputs["audio_mask"][1:, audio_frames * 2 // 3 :] = 0
    return inputs


def trace_inputs(config, frames: int) -> dict:
    """The inputs the graph is traced on: two clips (a dimension of 1 would be fixed to 1), 3 s of audio."""
    return _synthetic_inputs(config, max(frames, 2), EXAMPLE_AUDIO_FRAMES, clips=2, seed=0)


def check_inputs(config, frames: int) -> dict[str, dict]:
    """Inputs of other shapes than the traced ones, by description: the smallest, and a batch with missing parts."""
    from modeling_avemo.export_avemo import MIN_DYNAMIC_AUDIO_FRAMES

    smallest = _synthetic_inputs(config, 1, MIN_DYNAMIC_AUDIO_FRAMES, clips=1, seed=1)
    batch = _synthetic_inputs(config, max(frames, 2) + 3, 130, clips=3, seed=2)
    if config.modalities == "audio_visual":  # one clip without faces, one without audio
        batch["frame_mask"][1] = 0
        batch["audio_mask"][2] = 0
    elif config.uses_visual:
        batch["frame_mask"][1] = 0
    return {"1 clip, 1 frame, 0.95 s": smallest, "3 clips, one without faces or audio": batch}


def _export_graph(model, inputs: dict, path: Path) -> None:
    """Write model.onnx (one file) with dynamic batch, frames and time."""
    import torch

    from modeling_avemo.export_avemo import INPUT_AXES, pad_audio

    inputs = pad_audio(inputs)
    # Axis names (not torch.export.Dim objects): the exporter makes them dynamic and names the ONNX axes after them.
    dynamic_shapes = {name: INPUT_AXES[name] for name in inputs}
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # "torchvision is not installed" notes: avemo uses none of its ops
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # Each axis name is shared by several inputs on purpose; the exporter notes that once per input.
            warnings.filterwarnings("ignore", message=".*shares the same shape constraints")
            program = torch.onnx.export(
                _graph_module(model),
                (),
                kwargs=inputs,
                dynamo=True,
                dynamic_shapes=dynamic_shapes,
                output_names=output_names(model.config),
                external_data=False,
                verbose=False,
            )
        program.save(str(path), external_data=False)
    finally:
        exporter_log.setLevel(level)


def _max_differences(classifier: OnnxClassifier, model, cases: dict[str, dict], tolerance: float) -> dict[str, float]:
    """onnxruntime against eager PyTorch on each case: the max absolute logit difference (raises above tolerance)."""
    import torch

    from avemo.model_folders.loading import first_line

    differences = {}
    for description, inputs in cases.items():
        with torch.no_grad():
            expected = model(**inputs).logits.numpy()
        try:
            got = classifier(**inputs)
        except Exception as error:  # onnxruntime refuses the shapes (a graph that is not dynamic), an op fails
            raise OnnxExportError(
                f"onnxruntime cannot run {ONNX_FILE} on {description} ({first_line(error)}); nothing was written"
            ) from error
        difference = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
        if not difference <= tolerance:  # NaN fails too
            raise OnnxExportError(
                f"onnxruntime's logits differ from PyTorch's by {difference:.3g} (more than {tolerance:g}) on "
                f"{description} (shapes {got.shape} and {expected.shape}); nothing was written"
            )
        differences[description] = difference
    return differences


def _model_to_export(model, log) -> tuple:
    """For `export_onnx`: (where the model comes from, in words; the model; its processor) for a model folder,
    shipped name or hub id (loaded, its warnings logged), or for a model in memory (with the default processor)."""
    from avemo.model_folders.configs import default_processor
    from avemo.model_folders.loading import load_model_folder

    if hasattr(model, "config"):  # a model in memory (benchmarks, notebooks)
        source, processor = f"the {type(model).__name__} given", default_processor(model.config)
    else:
        loaded = load_model_folder(model)
        source, model, processor = loaded.source, loaded.model, loaded.processor
        for warning in loaded.warnings:
            log(warning)
    return source, model, processor


def export_onnx(
    model,
    output: str | PathLike,
    overwrite: bool = False,
    example_videos=(),
    tolerance: float = DEFAULT_TOLERANCE,
    log=None,
) -> OnnxExport:
    """Write the ONNX folder of `model` into `output` and check it (see the module docstring).

    `model`: a model folder, a shipped model's name or a hub id (None: the default shipped model), or a loaded
    `AVEmoForVideoClassification` (put in eval mode; saved with the default processor for its config).
    `example_videos`: media files whose processor inputs are checked too. Returns what was written and the
    differences measured."""
    from avemo.model_folders.loading import first_line

    from .export import replaceable, staged_folder

    log = log or (lambda message: None)
    output = Path(output)
    replaceable(output, overwrite, check_onnx_folder, OnnxFolderError, "ONNX export")
    require_onnx("ONNX export")
    source, model, processor = _model_to_export(model, log)
    model.eval()
    config = model.config
    cases = {"the traced inputs": trace_inputs(config, processor.num_frames)}
    cases.update(check_inputs(config, processor.num_frames))
    for video in example_videos:  # read before the export, so that a bad file costs no time
        log(f"reading {video} with the model's processor")
        cases[str(video)] = dict(processor(videos=[str(video)], return_tensors="pt"))

    with staged_folder(output) as stage:
        log(f"exporting {source} to ONNX (torch.onnx.export, dynamo)")
        try:
            _export_graph(model, cases["the traced inputs"], stage / ONNX_FILE)
        except Exception as error:
            raise OnnxExportError(
                f"{source}: torch.onnx.export failed ({first_line(error)}); nothing was written"
            ) from error
        settings = config.to_dict()
        for key in ("auto_map", "custom_pipelines"):  # they name code files the folder does not hold
            settings.pop(key, None)
        (stage / "config.json").write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
        processor.to_json_file(stage / "processor_config.json")
        log(f"checking {ONNX_FILE} with onnxruntime against PyTorch on {len(cases)} inputs")
        differences = _max_differences(OnnxClassifier(stage), model, cases, tolerance)
        files = check_onnx_folder(stage)
    return OnnxExport(output, files, differences)


__all__ = [
    "FOLDER_FILES",
    "DEFAULT_TOLERANCE",
    "OnnxExport",
    "OnnxExportError",
    "OnnxFolderError",
    "check_inputs",
    "check_onnx_folder",
    "export_onnx",
    "output_names",
    "trace_inputs",
]
