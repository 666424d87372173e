"""Options defined once (issue 11, part 3): the command line is built from the option dataclasses, its flag names
are contracts, every training option has help and a shown default, and building it stays light."""

import argparse
import dataclasses
import json

import pytest
from conftest import heavy_modules_after

from avemo.data.augmentation import AugmentConfig
from avemo.cli import build_parser
from avemo.options import add_dataclass_options, option, options_from_args
from avemo.train import TrainOptions
from avemo.train import TrainFacesOptions

AUGMENT = {
    "--no-augment",
    "--random-frames",
    "--no-random-frames",
    "--horizontal-flip",
    "--face-shift",
    "--brightness",
    "--contrast",
    "--saturation",
    "--time-shift-seconds",
    "--time-masks",
    "--time-mask-frames",
    "--time-mask-max-share",
    "--freq-masks",
    "--freq-mask-bins",
}
TRAINING = {
    "--data-dir",
    "--corpus",
    "--output-dir",
    "--config",
    "--init-from",
    "--ir50",
    "--resnet18",
    "--resnet18-recipe",
    "--max-steps",
    "--epochs",
    "--batch-size",
    "--eval-batch-size",
    "--learning-rate",
    "--lr",
    "--backbone-lr-scale",
    "--weight-decay",
    "--warmup-ratio",
    "--gradient-accumulation-steps",
    "--mixed-precision",
    "--gradient-checkpointing",
    "--class-weights",
    "--num-proc",
    "--cache-dir",
    "--dataloader-workers",
    "--logging-steps",
    "--seed",
    "--resume",
}
# Written by hand, not derived: a flag that disappears or is renamed breaks scripts, so it must fail here.
FLAGS = {
    "train": {
        *TRAINING,
        *AUGMENT,
        "--face-from",
        "--alexnet",
        "--crowd-labels",
        "--split",
        "--freeze-face",
        "--freeze-audio",
        "--num-frames",
        "--train-frames",
        "--audio-crop-seconds",
    },
    "train-faces": {
        *TRAINING,
        *AUGMENT,
        "--face-backbone",
        "--vggface",
        "--fer",
        "--validation-share",
        "--rafdb-images",
        "--affectnet-classes",
    },
    "evaluate": {
        "--model",
        "-m",
        "--weights",
        "--data-dir",
        "--corpus",
        "--output",
        "-o",
        "--split",
        "--crowd-labels",
        "--batch-size",
        "--num-proc",
        "--cache-dir",
        "--device",
    },
    "predict": {
        "--model",
        "-m",
        "--weights",
        "--json",
        "--device",
        "--num-frames",
        "--timeline",
        "--window",
        "--hop",
        "--faces-per-second",
        "--output-dir",
        "--persons",
        "--annotate",
    },
    "init": {
        "--output",
        "-o",
        "--preset",
        "--config",
        "--ir50",
        "--alexnet",
        "--resnet18",
        "--resnet18-recipe",
        "--fer",
        "--vggface",
        "--face-from",
        "--num-frames",
        "--overwrite",
    },
    "export": {
        "--model",
        "-m",
        "--output",
        "-o",
        "--metrics",
        "--repo-id",
        "--overwrite",
        "--onnx",
        "--example-video",
    },
    "space": {
        "--model",
        "-m",
        "--weights",
        "--host",
        "--port",
        "--max-duration",
        "--max-file-mb",
        "--device",
        "--num-frames",
        "--concurrency",
        "--export",
        "--overwrite",
    },
}


def _subcommands() -> dict:
    parser = build_parser()
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction)).choices


def _options(subparser) -> list:
    return [action for action in subparser._actions if action.option_strings and action.dest not in ("help", "debug")]


@pytest.mark.parametrize("command", sorted(FLAGS))
def test_the_flag_names_of_each_command_are_pinned(command):
    subparser = _subcommands()[command]
    flags = {flag for action in _options(subparser) for flag in action.option_strings}
    assert flags == FLAGS[command], (sorted(flags - FLAGS[command]), sorted(FLAGS[command] - flags))


@pytest.mark.parametrize("command", ["train", "train-faces"])
def test_every_training_option_has_help_and_shows_its_default(command):
    for action in _options(_subcommands()[command]):
        assert action.help and action.help.strip(), action.option_strings
        if not action.required:
            assert "default" in action.help, (action.option_strings, action.help)


def test_train_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needle in (
        "--learning-rate LEARNING_RATE, --lr LEARNING_RATE",
        "(default: 0.0001)",
        "--epochs EPOCHS passes over the training split (unless --max-steps) (default: 30.0)",
        "--weight-decay WEIGHT_DECAY AdamW weight decay (not on biases and norm layers) (default: 0.0001)",
        "--seed SEED seed of the split, the initialisation and the sampling (default: 0)",
        "--resume continue from the last checkpoint in OUT/checkpoints (default: off)",
        "--resnet18 RESNET18",
    ):
        assert needle in text, needle


REQUIRED = ["--data-dir", "d", "--corpus", "ravdess", "--output-dir", "o"]


def test_the_command_line_defaults_are_the_dataclass_defaults():
    args = build_parser().parse_args(["train", *REQUIRED])
    assert options_from_args(TrainOptions, args, augment=AugmentConfig()) == TrainOptions(
        data_dir="d", corpus="ravdess", output_dir="o"
    )
    args = build_parser().parse_args(["train-faces", "--data-dir", "d", "--corpus", "folder", "--output-dir", "o"])
    options = options_from_args(TrainFacesOptions, args, augment=AugmentConfig())
    assert options == TrainFacesOptions(data_dir="d", corpus="folder", output_dir="o")
    assert (options.batch_size, options.num_frames, options.train_frames, options.epochs) == (16, 1, 1, 10.0)


def test_every_flag_parses_to_the_same_values():
    parse = build_parser().parse_args
    args = parse(
        [
            "train",
            *REQUIRED,
            "--config",
            "c.json",
            "--init-from",
            "i",
            "--face-from",
            "f",
            "--ir50",
            "a.pth",
            "--alexnet",
            "b.pth",
            "--resnet18",
            "r.pth",
            "--resnet18-recipe",
            "fan",
            "--crowd-labels",
            "voice",
            "--split",
            "none",
            "--max-steps",
            "3",
            "--epochs",
            "2.5",
            "--batch-size",
            "4",
            "--eval-batch-size",
            "5",
            "--lr",
            "0.01",
            "--backbone-lr-scale",
            "0.5",
            "--weight-decay",
            "0.1",
            "--warmup-ratio",
            "0.2",
            "--gradient-accumulation-steps",
            "2",
            "--mixed-precision",
            "bf16",
            "--gradient-checkpointing",
            "--freeze-face",
            "--freeze-audio",
            "--class-weights",
            "--num-frames",
            "6",
            "--train-frames",
            "3",
            "--audio-crop-seconds",
            "1.5",
            "--num-proc",
            "2",
            "--cache-dir",
            "cache",
            "--dataloader-workers",
            "1",
            "--logging-steps",
            "7",
            "--seed",
            "9",
            "--resume",
        ]
    )
    assert options_from_args(TrainOptions, args, augment=AugmentConfig()) == TrainOptions(
        data_dir="d",
        corpus="ravdess",
        output_dir="o",
        config="c.json",
        init_from="i",
        face_from="f",
        ir50="a.pth",
        alexnet="b.pth",
        resnet18="r.pth",
        resnet18_recipe="fan",
        crowd_labels="voice",
        split="none",
        max_steps=3,
        epochs=2.5,
        batch_size=4,
        eval_batch_size=5,
        learning_rate=0.01,
        backbone_lr_scale=0.5,
        weight_decay=0.1,
        warmup_ratio=0.2,
        gradient_accumulation_steps=2,
        mixed_precision="bf16",
        gradient_checkpointing=True,
        freeze_face=True,
        freeze_audio=True,
        class_weights=True,
        num_frames=6,
        train_frames=3,
        audio_crop_seconds=1.5,
        num_proc=2,
        cache_dir="cache",
        dataloader_workers=1,
        logging_steps=7,
        seed=9,
        resume=True,
    )
    assert parse(["train", *REQUIRED, "--learning-rate", "0.02"]).learning_rate == 0.02
    args = parse(
        [
            "train-faces",
            "--data-dir",
            "d",
            "--corpus",
            "affectnet",
            "--output-dir",
            "o",
            "--face-backbone",
            "resnet18",
            "--resnet18",
            "r",
            "--resnet18-recipe",
            "imagenet",
            "--vggface",
            "v",
            "--fer",
            "w",
            "--validation-share",
            "0.2",
            "--rafdb-images",
            "aligned",
            "--affectnet-classes",
            "8",
            "--batch-size",
            "32",
        ]
    )
    options = options_from_args(TrainFacesOptions, args, augment=AugmentConfig())
    assert (options.face_backbone, options.resnet18, options.resnet18_recipe, options.vggface, options.fer) == (
        "resnet18",
        "r",
        "imagenet",
        "v",
        "w",
    )
    assert (options.validation_share, options.rafdb_images, options.affectnet_classes, options.batch_size) == (
        0.2,
        "aligned",
        8,
        32,
    )
    args = parse(
        [
            "evaluate",
            "-m",
            "a",
            "--model",
            "b",
            "--weights",
            "1",
            "2",
            "--data-dir",
            "d",
            "--corpus",
            "csv",
            "-o",
            "m.json",
            "--split",
            "test",
            "--crowd-labels",
            "face",
            "--batch-size",
            "3",
            "--num-proc",
            "2",
            "--cache-dir",
            "c",
            "--device",
            "cpu",
        ]
    )
    assert (args.model, args.weights, args.data_dir, args.corpus, args.output, args.split) == (
        ["a", "b"],
        [1.0, 2.0],
        "d",
        "csv",
        "m.json",
        "test",
    )
    assert (args.crowd_labels, args.batch_size, args.num_proc, args.cache_dir, args.device) == (
        "face",
        3,
        2,
        "c",
        "cpu",
    )
    defaults = parse(["evaluate", "-m", "a", "--data-dir", "d", "--corpus", "csv", "-o", "m.json"])
    assert (
        defaults.weights,
        defaults.split,
        defaults.crowd_labels,
        defaults.batch_size,
        defaults.num_proc,
        defaults.cache_dir,
        defaults.device,
    ) == (None, "all", None, 8, 1, None, None)
    args = parse(
        [
            "predict",
            "v.mp4",
            "-m",
            "a",
            "-m",
            "b",
            "--weights",
            "0.3",
            "0.7",
            "--json",
            "--device",
            "cpu",
            "--num-frames",
            "4",
        ]
    )
    assert (args.videos, args.model, args.weights, args.json, args.device, args.num_frames) == (
        ["v.mp4"],
        ["a", "b"],
        [0.3, 0.7],
        True,
        "cpu",
        4,
    )
    defaults = parse(["predict", "v.mp4"])
    assert (
        defaults.model,
        defaults.weights,
        defaults.device,
        defaults.num_frames,
        defaults.window,
        defaults.output_dir,
    ) == (None, None, None, None, 2.0, ".")
    args = parse(
        [
            "init",
            "-o",
            "out",
            "--ir50",
            "a",
            "--alexnet",
            "b",
            "--resnet18",
            "c",
            "--resnet18-recipe",
            "fan",
            "--fer",
            "d",
            "--vggface",
            "e",
            "--face-from",
            "f",
            "--num-frames",
            "4",
            "--overwrite",
        ]
    )
    assert (
        args.output,
        args.ir50,
        args.alexnet,
        args.resnet18,
        args.resnet18_recipe,
        args.fer,
        args.vggface,
        args.face_from,
    ) == ("out", "a", "b", "c", "fan", "d", "e", "f")
    assert (args.num_frames, args.overwrite, parse(["init", "-o", "x"]).num_frames) == (4, True, 8)
    args = parse(
        [
            "space",
            "-m",
            "a",
            "--weights",
            "1",
            "--device",
            "cpu",
            "--num-frames",
            "2",
            "--port",
            "8000",
            "--concurrency",
            "3",
        ]
    )
    assert (args.model, args.weights, args.device, args.num_frames, args.port, args.concurrency) == (
        ["a"],
        [1.0],
        "cpu",
        2,
        8000,
        3,
    )
    assert parse(["space"]).model is None and parse(["space"]).concurrency == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--data-dir", "d", "--corpus", "csv", "-o", "m.json"],  # --model is required
        ["train", *REQUIRED, "--resnet18-recipe", "other"],
        ["train", *REQUIRED, "--mixed-precision", "fp8"],
        ["train", "--data-dir", "d", "--corpus", "nope", "--output-dir", "o"],
        ["train-faces", *REQUIRED],  # ravdess is a video corpus
        [
            "train-faces",
            "--data-dir",
            "d",
            "--corpus",
            "folder",
            "--output-dir",
            "o",
            "--alexnet",
            "a.pth",
        ],  # audio only: not a flag
        ["train-faces", "--data-dir", "d", "--corpus", "folder", "--output-dir", "o", "--face-backbone", "nope"],
        ["train-faces", "--data-dir", "d", "--corpus", "folder", "--output-dir", "o", "--affectnet-classes", "9"],
    ],
)
def test_bad_values_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2


def test_building_the_parser_stays_light():
    """`avemo --help` must not wait for torch or transformers: choices come from registries read without them."""
    assert heavy_modules_after("from avemo.cli import build_parser\nbuild_parser()") == []
    from modeling_avemo.registry_avemo import FACE_ENCODERS

    choices = next(
        action for action in _subcommands()["train-faces"]._actions if action.dest == "face_backbone"
    ).choices
    assert tuple(choices) == FACE_ENCODERS.names()


def test_add_dataclass_options_reads_the_annotations():
    @dataclasses.dataclass
    class Example:
        name: str = option(help="required")
        count: int = option(3, "a number")
        scale: float | None = option(None, "optional")
        values: list[float] | None = option(None, "one or more")
        on: bool = option(True, "a switch that starts on")
        off: bool = option(False, "a switch that starts off")
        kind: str = option("a", "one of", choices=lambda: ("a", "b"), flags=("--kind", "-k"))
        hidden: int = 5

    parser = argparse.ArgumentParser()
    assert add_dataclass_options(parser, Example) == ["name", "count", "scale", "values", "on", "off", "kind"]
    args = parser.parse_args(["--name", "x", "--scale", "0.5", "--values", "1", "2", "--no-on", "--off", "-k", "b"])
    assert options_from_args(Example, args) == Example(
        name="x", count=3, scale=0.5, values=[1.0, 2.0], on=False, off=True, kind="b"
    )
    helps = {action.dest: action.help for action in parser._actions}
    assert helps["count"] == "a number (default: 3)" and helps["scale"] == "optional (default: none)"
    assert (
        helps["on"] == "a switch that starts on (default: on)"
        and helps["off"] == "a switch that starts off (default: off)"
    )
    assert helps["name"] == "required"  # a required option has no default to show
    with pytest.raises(SystemExit):
        parser.parse_args([])  # --name is required


def test_train_takes_a_resnet18_checkpoint(tmp_path):
    """`--resnet18` (issue 11: it existed for init but not for train): the weights, their face recipe, provenance."""
    import torch

    from avemo.train.video import build_model_and_processor
    from test_backbone_import import random_state_dict, torchvision_resnet18_shapes

    state = random_state_dict(torchvision_resnet18_shapes(), seed=3)  # fc of 1000 classes: torchvision's ImageNet file
    torch.save(state, tmp_path / "resnet18.pth")
    (tmp_path / "config.json").write_text(
        json.dumps({"face_backbone": "resnet18", "modalities": "visual"})
    )  # torchvision sizes
    args = build_parser().parse_args(
        ["train", *REQUIRED, "--config", str(tmp_path / "config.json"), "--resnet18", str(tmp_path / "resnet18.pth")]
    )
    options = options_from_args(TrainOptions, args, augment=AugmentConfig())
    model, processor = build_model_and_processor(options, ["a", "b"])
    encoder = model.avemo.face_encoder.state_dict()
    assert torch.equal(encoder["layer4.1.conv2.weight"], state["layer4.1.conv2.weight"])
    assert model.config.face_recipe["name"] == "imagenet" and processor.face_recipe == model.config.face_recipe
    assert [entry["part"] for entry in model.config.provenance["weights"]][-1] == "face_encoder"
    options = dataclasses.replace(options, resnet18_recipe="fan")
    model, processor = build_model_and_processor(options, ["a", "b"])
    assert model.config.face_recipe["name"] == "fan" and processor.face_recipe == model.config.face_recipe
