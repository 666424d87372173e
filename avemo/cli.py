"""The `avemo` command.

    avemo init --output DIR [--config FILE] [--ir50 PATH] [--alexnet PATH]
    avemo predict VIDEO... [--model DIR_OR_HUB_ID] [--json]

Errors print one line naming the file and the problem and exit non-zero; `--debug` shows the traceback.
"""

import argparse
import json
import sys
from pathlib import Path

from . import __version__

DEFAULT_MODEL_DIR = "avemo-model"


class CommandError(Exception):
    """An expected failure: printed as one line, exit status 1 (2 for usage)."""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avemo", description="Audio-video emotion recognition (Zhou et al., EmotiW 2019).")
    parser.add_argument("--version", action="version", version=f"avemo {__version__}")
    _common(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    init = commands.add_parser("init", help="write a model folder (config, weights, processor, code)")
    init.add_argument("--output", "-o", required=True, help="folder to write")
    init.add_argument("--config", help="JSON file of AVEmoConfig fields (a saved config.json works too)")
    init.add_argument("--ir50", help="face.evoLVe IR_50 checkpoint (.pth) for the face CNN")
    init.add_argument("--alexnet", help="torchvision AlexNet checkpoint (.pth) for the audio CNN")
    init.add_argument("--resnet18", help="torchvision-named ResNet-18 checkpoint when face_backbone is resnet18")
    init.add_argument("--num-frames", type=int, default=8, help="frames sampled per clip by the processor (default 8)")
    init.add_argument("--overwrite", action="store_true", help="replace a model already in --output")
    _common(init)
    init.set_defaults(run=run_init)

    predict = commands.add_parser("predict", help="emotion probabilities for video files")
    predict.add_argument("videos", nargs="+", metavar="VIDEO", help="video files (mp4, mov, avi, mkv, webm, flv, ...)")
    predict.add_argument("--model", "-m", default=None, help=f"model folder or hub id (default: ./{DEFAULT_MODEL_DIR}, made with avemo init if missing)")
    predict.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    predict.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    predict.add_argument("--num-frames", type=int, default=None, help="frames sampled per clip (default: the processor's)")
    _common(predict)
    predict.set_defaults(run=run_predict)
    return parser


def run_init(args) -> int:
    from .model_folder import init_model_folder, read_config_file

    config = read_config_file(args.config) if args.config else None
    output = init_model_folder(
        args.output, config, ir50=args.ir50, alexnet=args.alexnet, resnet18=args.resnet18,
        overwrite=args.overwrite, num_frames=args.num_frames,
    )
    loaded = [name for name in ("ir50", "alexnet", "resnet18") if getattr(args, name)]
    backbones = f"pretrained {', '.join(loaded)}" if loaded else "random weights"
    print(f"wrote {output} ({backbones}; untrained classifier: train it with avemo train)", file=sys.stderr)
    return 0


def run_predict(args) -> int:
    from tqdm.auto import tqdm

    from avemo.processing import MediaError, NothingToPredictError

    from .inference import Predictor

    model = args.model
    if model is None:
        model = DEFAULT_MODEL_DIR
        if not Path(model, "config.json").is_file():
            from .model_folder import init_model_folder

            init_model_folder(model)
            print(f"avemo predict: no --model given: made an untrained model in ./{model} (avemo init)", file=sys.stderr)
    predictor = Predictor(model, device=args.device, num_frames=args.num_frames)
    failures = 0
    progress = tqdm(args.videos, desc="predict", unit="file", disable=len(args.videos) < 3, file=sys.stderr)
    for video in progress:
        try:
            result = predictor.predict_file(video)
        except (MediaError, NothingToPredictError, OSError) as error:
            failures += 1
            progress.write(f"avemo predict: error: {error}", file=sys.stderr)
            if args.debug:
                raise
            continue
        if args.json:
            progress.write(json.dumps(result.to_dict()), file=sys.stdout)
        else:
            ranked = sorted(result.scores.items(), key=lambda item: -item[1])
            scores = "  ".join(f"{label} {probability:.3f}" for label, probability in ranked)
            lines = [f"{result.file}: {result.label}  ({scores})", f"  faces in {result.frames_used}/{result.frames_sampled} frames, audio {'used' if result.audio_used else 'not used'}"]
            lines += [f"  warning: {warning}" for warning in result.warnings]
            progress.write("\n".join(lines), file=sys.stdout)
    return 1 if failures else 0


def _quiet_libraries() -> None:
    """The CLI reports for itself: no weight-loading bars or load reports from transformers."""
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    _quiet_libraries()
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("avemo: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one line, no traceback, unless --debug
        if args.debug:
            raise
        message = str(error).strip() or type(error).__name__
        if not isinstance(error, (ValueError, OSError, RuntimeError)):
            message = f"{type(error).__name__}: {message}"
        print(f"avemo {args.command}: error: {message}  (run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
