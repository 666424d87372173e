"""Load published backbone weights into an AVEmo model.

- face.evoLVe IR50 (`backbone_ir50_ms1m_epoch120.pth`, 112x112, `input_layer.*`, `body.N.*`, `output_layer.*`);
- torchvision AlexNet (`alexnet-owt-7be5be79.pth`): its `features.*`; the ImageNet `classifier.*` is not used;
- torchvision ResNet-18 (or FAN's ResNet-18, same names): everything but the ImageNet `fc.*`.

Checkpoints are read with `torch.load(..., weights_only=True)` (or safetensors). Keys are matched by name only;
any missing, unexpected or mis-shaped key is refused with a `BackboneWeightsError` that lists them, so a wrong
file or a config that does not match it (face size, widths) never loads half-way.
"""

from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import torch
from torch import nn


class BackboneWeightsError(ValueError):
    """A backbone checkpoint does not match the model it is loaded into."""


# Containers in which training scripts commonly nest the weights.
_NESTED_KEYS = ("state_dict", "model_state_dict", "model")
# Prefixes added by DataParallel / DistributedDataParallel and torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def read_state_dict(checkpoint: str | PathLike | Mapping, what: str) -> dict[str, torch.Tensor]:
    """A state_dict from a path (.pth/.pt/.bin via torch.load(weights_only=True), or .safetensors) or a mapping."""
    source = "the given state_dict"
    if isinstance(checkpoint, Mapping):
        state = checkpoint
    else:
        path = Path(checkpoint)
        source = str(path)
        if not path.is_file():
            raise FileNotFoundError(f"{what} checkpoint not found: {path}")
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(path))
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # corrupt file, pickled code objects, ...
            raise BackboneWeightsError(f"{path}: cannot read a {what} state_dict ({type(error).__name__}: {error})") from error
    for key in _NESTED_KEYS:
        if isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise BackboneWeightsError(f"{source}: not a {what} state_dict (some values are not tensors)")
    cleaned = {}
    for key, value in state.items():
        for prefix in _WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
        cleaned[key] = value
    return cleaned


def load_state_dict_exactly(module: nn.Module, state: Mapping[str, torch.Tensor], what: str, hint: str = "") -> None:
    """load_state_dict that first lists every missing, unexpected and mis-shaped key in one error."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = sorted(
        f"{key}: checkpoint {tuple(state[key].shape)} vs model {tuple(expected[key].shape)}"
        for key in set(expected) & set(state)
        if state[key].shape != expected[key].shape
    )
    if missing or unexpected or misshaped:
        lines = [f"{what} checkpoint does not match the model{': ' + hint if hint else ''}"]
        for title, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if keys:
                lines.append(f"  {len(keys)} {title}: " + ", ".join(keys[:20]) + (" ..." if len(keys) > 20 else ""))
        raise BackboneWeightsError("\n".join(lines))
    module.load_state_dict(state, strict=True)


def _base_model(model: nn.Module) -> nn.Module:
    return getattr(model, "avemo", model)


def _face_encoder(model: nn.Module, backbone: str) -> nn.Module:
    config = model.config
    if not config.uses_visual or config.face_backbone != backbone:
        raise BackboneWeightsError(
            f"the model has no {backbone} face backbone (modalities={config.modalities!r}, "
            f"face_backbone={config.face_backbone!r})"
        )
    return _base_model(model).face_encoder


def load_ir50_weights(model: nn.Module, checkpoint: str | PathLike | Mapping) -> nn.Module:
    """Load a face.evoLVe IR_50 checkpoint into the face CNN of `model` (an AVEmoModel or classifier)."""
    encoder = _face_encoder(model, "ir50")
    state = read_state_dict(checkpoint, "IR50")
    hint = (
        f"the model is configured for face_size={model.config.face_size}; face.evoLVe's MS1M IR50 is a 112x112 model "
        "(output_layer.3.weight is 512 x 25088 for 112, 512 x 100352 for 224)"
    )
    load_state_dict_exactly(encoder, state, "IR50", hint)
    return model


def load_resnet18_weights(model: nn.Module, checkpoint: str | PathLike | Mapping) -> nn.Module:
    """Load a torchvision-named ResNet-18 checkpoint (ImageNet, or FAN's face model) into the face CNN."""
    encoder = _face_encoder(model, "resnet18")
    state = {key: value for key, value in read_state_dict(checkpoint, "ResNet-18").items() if not key.startswith("fc.")}
    load_state_dict_exactly(encoder, state, "ResNet-18")
    return model


def load_alexnet_weights(model: nn.Module, checkpoint: str | PathLike | Mapping) -> nn.Module:
    """Load torchvision AlexNet `features.*` weights into the audio CNN of `model`."""
    config = model.config
    if not config.uses_audio:
        raise BackboneWeightsError(f"the model has no audio backbone (modalities={config.modalities!r})")
    state = {key: value for key, value in read_state_dict(checkpoint, "AlexNet").items() if not key.startswith("classifier.")}
    load_state_dict_exactly(_base_model(model).audio_encoder, state, "AlexNet", "only features.* is used; classifier.* is dropped")
    return model
