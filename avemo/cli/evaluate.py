"""`avemo evaluate`: accuracy, UAR, macro F1 and the confusion matrix of a model (or an ensemble) on a corpus."""

import sys
from pathlib import Path

from avemo.cli.common import add_debug_flag
from avemo.options import ModelChoice, RunOn, add_dataclass_options


def add_parser(commands) -> None:
    """Add the `avemo evaluate` subparser: the model(s), the corpus as avemo train reads it, the split and where the
    metrics go."""
    from avemo.train.video import TrainOptions

    evaluate = commands.add_parser("evaluate", help="accuracy, UAR, macro F1 and confusion matrix on a corpus folder")
    add_dataclass_options(
        evaluate,
        ModelChoice,
        changes={
            "model": {
                "required": True,
                "help": "model folder, shipped model name or hub id; give it several times for an ensemble "
                "(mean probabilities)",
            },
        },
    )
    # The corpus options are avemo train's: the same corpus read the same way.
    add_dataclass_options(
        evaluate, TrainOptions, only=("data_dir", "corpus"), changes={"corpus": {"help": "how to read --data-dir"}}
    )
    evaluate.add_argument(
        "--output", "-o", required=True, help="metrics JSON; the confusion-matrix PNG is written beside it"
    )
    evaluate.add_argument(
        "--split",
        default="all",
        choices=("all", "train", "validation", "test"),
        help="which part of the speaker-independent split (default: every clip)",
    )
    add_dataclass_options(evaluate, TrainOptions, only=("crowd_labels",))
    evaluate.add_argument("--batch-size", type=int, default=8, help="clips per forward pass")
    add_dataclass_options(
        evaluate,
        TrainOptions,
        only=("num_proc", "cache_dir"),
        changes={
            "cache_dir": {"help": "feature cache (default: none, features are computed each time)"},
        },
    )
    add_dataclass_options(evaluate, RunOn, only=("device",))
    add_debug_flag(evaluate)
    evaluate.set_defaults(run=run)


def run(args) -> int:
    """Evaluate and print the accuracy, UAR and macro F1 with the files written. Returns the exit status (0)."""
    from avemo.evaluation.evaluate import evaluate_model

    report = evaluate_model(
        args.model if len(args.model) > 1 else args.model[0],
        args.data_dir,
        args.corpus,
        args.output,
        split=args.split,
        batch_size=args.batch_size,
        num_proc=args.num_proc,
        cache_dir=args.cache_dir,
        crowd_labels=args.crowd_labels,
        device=args.device,
        log=lambda message: print(f"avemo evaluate: {message}", file=sys.stderr),
        weights=args.weights,
    )
    print(
        f"{report['num_clips']} clips: accuracy {report['accuracy']:.4f}, UAR {report['uar']:.4f}, "
        f"macro F1 {report['macro_f1']:.4f} -> {args.output} and {Path(args.output).with_suffix('.png')}"
    )
    return 0
