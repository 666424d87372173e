"""The Space's command-line flags, shared by `python app.py` (the Space itself) and `avemo space`.

Kept apart from app.py, which sets environment variables when imported, so that building avemo's parser costs
nothing.
"""

import argparse

DEFAULT_MAX_SECONDS = 60.0
DEFAULT_MAX_MB = 50.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        "-m",
        default=None,
        action="append",
        help="model folder, shipped model name or hub id; several for an ensemble (default: AVEMO_MODEL, "
        "comma-separated for an ensemble, else the shipped fer2013-faces)",
    )
    parser.add_argument(
        "--weights",
        type=float,
        nargs="+",
        default=None,
        help="one weight per --model in an ensemble (default: AVEMO_MODEL_WEIGHTS, else equal)",
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
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument(
        "--num-frames", type=int, default=None, help="frames sampled per clip (default: the processor's)"
    )
    parser.add_argument("--concurrency", type=int, default=2, help="requests analysed at the same time (default 2)")
