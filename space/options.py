"""The flags of avemo's Space, defined once: `avemo space` and the Space's own `python app.py` (on Hugging Face
Spaces) both take them. Standard library and `avemo.options` only, so that `avemo --help` stays light and an
exported Space carries this file with avemo's code."""

import argparse

from avemo.options import ModelChoice, RunOn, add_dataclass_options

DEFAULT_MAX_SECONDS = 60.0
DEFAULT_MAX_MB = 50.0


def add_space_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the Space's flags to `parser`: the model (or ensemble), where to listen, the upload limits, the device
    and frames, and the concurrency."""
    add_dataclass_options(
        parser,
        ModelChoice,
        changes={
            "model": {
                "help": "model folder, shipped model name or hub id; several for an ensemble (default: AVEMO_MODEL, "
                "comma-separated for an ensemble, else the shipped fer2013-faces)"
            },
            "weights": {"help": "one weight per --model in an ensemble (default: AVEMO_MODEL_WEIGHTS, else equal)"},
        },
    )
    parser.add_argument(
        "--host", default=None, help="address to listen on (default: GRADIO_SERVER_NAME, else 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port (default: GRADIO_SERVER_PORT, else the first free one from 7860)"
    )
    parser.add_argument(
        "--max-duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"longest clip accepted (default: AVEMO_SPACE_MAX_SECONDS, else {DEFAULT_MAX_SECONDS:g})",
    )
    parser.add_argument(
        "--max-file-mb",
        type=float,
        default=None,
        metavar="MB",
        help=f"largest upload accepted (default: AVEMO_SPACE_MAX_MB, else {DEFAULT_MAX_MB:g})",
    )
    add_dataclass_options(parser, RunOn)
    parser.add_argument("--concurrency", type=int, default=2, help="requests analysed at the same time (default 2)")
