"""`avemo train`: fine-tune on a video corpus with a speaker-independent split; the best model ends up in OUT/best.
Its augmentation flags (one per `AugmentConfig` field) are `avemo train-faces`'s too."""

import argparse
import sys

from avemo.cli.common import add_debug_flag, training_summary
from avemo.options import add_dataclass_options, options_from_args


def add_parser(commands) -> None:
    """Add the `avemo train` subparser: one flag per TrainOptions field, then the augmentation flags."""
    from avemo.train.video import TrainOptions

    train = commands.add_parser(
        "train",
        help="fine-tune on a corpus; the best model ends up in OUT/best",
        description="Fine-tune on RAVDESS, CREMA-D, AFEW or a CSV list with a speaker-independent split. Runs on one "
        "CPU/GPU, or under `accelerate launch` on several processes.",
    )
    add_dataclass_options(train, TrainOptions)  # one flag per field, with the field's help and default
    add_augmentation_options(train)
    add_debug_flag(train)
    train.set_defaults(run=run)


def run(args) -> int:
    """Train and say where the best model went, with its test-split metrics. Returns the exit status (0)."""
    from avemo.train.video import TrainOptions, train

    options = options_from_args(TrainOptions, args, augment=augmentation_from_args(args))
    metrics = train(options)
    if metrics:
        print(f"best model: {options.output_dir}/best (test split: {training_summary(metrics)})", file=sys.stderr)
    return 0


def add_augmentation_options(parser: argparse.ArgumentParser) -> None:
    """One flag per AugmentConfig field (same name, dashes for underscores), not given by default: the command starts
    from the default augmentation, or from none with --no-augment, and applies the flags given over it."""
    from avemo.data.augmentation import AugmentConfig

    group = parser.add_argument_group(
        "augmentation",
        "applied on the fly to the training batches only (evaluation never augments); on by default. The paper does "
        "not publish its augmentation: these defaults are avemo's own choice.",
    )
    group.add_argument(
        "--no-augment",
        action="store_true",
        help="switch all augmentation off (options given with it switch single ones back on) "
        "(default: off, augmentation is on)",
    )
    add_dataclass_options(group, AugmentConfig, unset_defaults=True)


def augmentation_from_args(args):
    """The AugmentConfig the command line asks for: the default one (or none, with --no-augment) with the
    augmentation flags given applied over it."""
    from dataclasses import replace

    from avemo.data.augmentation import AugmentConfig
    from avemo.options import option_names

    given = {name: getattr(args, name) for name in option_names(AugmentConfig) if getattr(args, name) is not None}
    return replace(AugmentConfig.none() if args.no_augment else AugmentConfig(), **given)
