"""Running a folder written by `avemo export --onnx` with onnxruntime, from the processor's outputs.

    from avemo.hub_card.onnx_runner import OnnxClassifier
    classifier = OnnxClassifier("onnx/avemo-faces")
    logits = classifier(**classifier.processor(videos=["clip.mp4"]))        # numpy, (clips, labels)

The graph takes the model's inputs by name (only those of its modalities) and needs audio inputs of at least
`MIN_DYNAMIC_AUDIO_FRAMES` (95) frames: `OnnxClassifier` pads shorter ones with zeros under a zero mask, which
changes no logit (see modeling_avemo/export_avemo.py), and casts masks to int64 and features to float32.
"""

import importlib
import json
from os import PathLike
from pathlib import Path

import numpy as np

ONNX_FILE = "model.onnx"
# The model's inputs: a graph takes those of its modalities (visual: the first two, audio: the last two).
MODEL_INPUTS = ("pixel_values", "frame_mask", "input_features", "audio_mask")
MASKS = ("frame_mask", "audio_mask")
INSTALL_HINT = 'pip install "avemo[onnx]"'


class OnnxUnavailableError(RuntimeError):
    """onnx, onnxscript or onnxruntime is not installed; the message names them and the extra to install."""


class OnnxFolderError(ValueError):
    """A folder is not (or cannot become) an ONNX export of an avemo model; the message names it."""


def require_onnx(purpose: str, modules=("onnx", "onnxscript", "onnxruntime")) -> dict:
    """The named modules, imported; raises `OnnxUnavailableError` naming every missing one."""
    imported, missing = {}, []
    for name in modules:
        try:
            imported[name] = importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise OnnxUnavailableError(
            f"{purpose} needs {' and '.join(missing)}, which {verb} not installed: {INSTALL_HINT}"
        )
    return imported


class OnnxClassifier:
    """An exported avemo classifier run by onnxruntime. `__call__(**inputs)` returns the logits, `run(**inputs)`
    every output by name (`logits` and the pooling weights `visual_attentions` / `audio_attentions`)."""

    def __init__(self, folder: str | PathLike, providers=("CPUExecutionProvider",), threads: int | None = None):
        self.folder = Path(folder)
        path = self.folder / ONNX_FILE
        if not path.is_file():
            raise OnnxFolderError(f"{self.folder}: no {ONNX_FILE} here; write one with avemo export --onnx")
        ort = require_onnx("running an ONNX export", ("onnxruntime",))["onnxruntime"]
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=list(providers))
        self.input_names = [graph_input.name for graph_input in self.session.get_inputs()]
        self.output_names = [graph_output.name for graph_output in self.session.get_outputs()]
        config_path = self.folder / "config.json"
        try:
            config = json.loads(config_path.read_text())
        except (OSError, ValueError) as error:
            raise OnnxFolderError(f"{config_path}: cannot be read ({error})") from error
        self.id2label = {int(index): label for index, label in config["id2label"].items()}
        self._processor = None

    @property
    def processor(self):
        """The model's `AVEmoProcessor`, from the folder's processor_config.json (loaded on first use)."""
        if self._processor is None:
            from avemo.processing import AVEmoProcessor

            self._processor = AVEmoProcessor.from_pretrained(self.folder)
        return self._processor

    def graph_inputs(self, inputs: dict) -> dict:
        """The processor's outputs (torch tensors or NumPy arrays) as the graph's inputs: only the graph's names,
        masks filled with ones where absent (as the model does), audio padded to the graph's shortest."""
        import torch

        from modeling_avemo.export_avemo import pad_audio

        unknown = sorted(set(inputs) - set(MODEL_INPUTS))
        if unknown:
            raise ValueError(f"the ONNX model takes {', '.join(self.input_names)}; got also {', '.join(unknown)}")
        tensors = {name: torch.as_tensor(inputs[name]).detach().cpu() for name in self.input_names if name in inputs}
        if "pixel_values" in tensors and "frame_mask" not in tensors:
            tensors["frame_mask"] = torch.ones(tensors["pixel_values"].shape[:2], dtype=torch.long)
        if "input_features" in tensors and "audio_mask" not in tensors:
            features = tensors["input_features"]
            tensors["audio_mask"] = torch.ones(features.shape[0], features.shape[-1], dtype=torch.long)
        missing = [name for name in self.input_names if name not in tensors]
        if missing:
            raise ValueError(f"the ONNX model needs {', '.join(missing)} (as its processor makes them)")
        padded = pad_audio(tensors)
        return {
            name: value.numpy().astype(np.int64 if name in MASKS else np.float32, copy=False)
            for name, value in padded.items()
        }

    def run(self, **inputs) -> dict:
        """Every graph output by name, as NumPy arrays."""
        outputs = self.session.run(self.output_names, self.graph_inputs(inputs))
        return dict(zip(self.output_names, outputs))

    def __call__(self, **inputs) -> np.ndarray:
        """The logits, (clips, labels)."""
        return self.run(**inputs)["logits"]


__all__ = [
    "ONNX_FILE",
    "MODEL_INPUTS",
    "OnnxClassifier",
    "OnnxFolderError",
    "OnnxUnavailableError",
    "require_onnx",
]
