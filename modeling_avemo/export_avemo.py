"""AVEmo models as graphs: `torch.export` programs with a dynamic batch, frame count and audio length.

    program = export_model(model, inputs)              # inputs as the processor makes them
    logits = program.module()(**pad_audio(other_inputs)).logits

The forward has no data-dependent branch when traced (see modeling_avemo.py), so one program serves any batch size
and any number of frames. The audio length is dynamic from `MIN_DYNAMIC_AUDIO_FRAMES` (0.95 s) up: a tracer treats
a size that may be 1 as a special case, and shorter audio gives an audio map one column wide. `pad_audio` pads
shorter inputs with zeros under a zero mask, which changes no number the model returns (padding never reaches the
valid columns of the audio map) except the audio map and weights, which gain zero columns.

Not saved beside the weights (nothing in the remote code imports it): an avemo tool, like ONNX export.
"""

import torch

from .configuration_avemo import ALEXNET_MIN_FRAMES
from .modeling_avemo import AVEmoPreTrainedModel

# One more map column's worth of frames than the shortest audio the conv stack maps at all (4 * 2 * 2 * 2 frames
# per column: AlexNetFeatures.time_stride), so that a dynamic audio map is never one column wide.
MIN_DYNAMIC_AUDIO_FRAMES = ALEXNET_MIN_FRAMES + 32

# The model inputs, each with its dynamic axes: batch, then frames (faces) or time (audio).
INPUT_AXES = {
    "pixel_values": {0: "batch", 1: "frames"},
    "frame_mask": {0: "batch", 1: "frames"},
    "input_features": {0: "batch", 3: "time"},
    "audio_mask": {0: "batch", 1: "time"},
    "frame_embeds": {0: "batch", 1: "frames"},
}


def pad_audio(inputs: dict, min_frames: int = MIN_DYNAMIC_AUDIO_FRAMES) -> dict:
    """`inputs` with `input_features` and `audio_mask` right-padded with zeros to at least `min_frames` (a copy; the
    others unchanged). A missing `audio_mask` is made all ones over the real frames first."""
    features = inputs.get("input_features")
    if features is None or features.shape[-1] >= min_frames:
        return dict(inputs)
    missing = min_frames - features.shape[-1]
    mask = inputs.get("audio_mask")
    if mask is None:
        mask = torch.ones(features.shape[0], features.shape[-1], dtype=torch.long, device=features.device)
    return {
        **inputs,
        "input_features": torch.nn.functional.pad(features, (0, missing)),
        "audio_mask": torch.nn.functional.pad(mask, (0, missing)),
    }


def dynamic_shapes(inputs: dict, dynamic: bool = True) -> dict | None:
    """torch.export's `dynamic_shapes` for these model inputs: the batch, frame and time axes dynamic (with
    `Dim.DYNAMIC`, so that the tracer may bound them itself: the time axis from MIN_DYNAMIC_AUDIO_FRAMES), or None
    for a program of exactly these shapes."""
    if not dynamic:
        return None
    return {
        name: {axis: torch.export.Dim.DYNAMIC for axis in INPUT_AXES[name]} if value is not None else None
        for name, value in inputs.items()
    }


def export_model(model: AVEmoPreTrainedModel, inputs: dict, dynamic: bool = True) -> "torch.export.ExportedProgram":
    """The model (put in eval mode) as a `torch.export` program taking `inputs`' names as keyword arguments. With
    `dynamic`, the batch, the frame count and the audio length may differ from `inputs`' (see the module docstring);
    `inputs` are padded with `pad_audio` first. Labels are not part of the program."""
    unknown = set(inputs) - set(INPUT_AXES)
    if unknown:
        raise ValueError(f"export_model takes model inputs ({', '.join(INPUT_AXES)}); got also {sorted(unknown)}")
    model.eval()
    inputs = pad_audio(inputs) if dynamic else dict(inputs)
    with torch.no_grad():
        return torch.export.export(model, (), kwargs=inputs, dynamic_shapes=dynamic_shapes(inputs, dynamic))


__all__ = ["MIN_DYNAMIC_AUDIO_FRAMES", "INPUT_AXES", "pad_audio", "dynamic_shapes", "export_model"]
