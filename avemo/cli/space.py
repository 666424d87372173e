"""`avemo space`: the Gradio Space in the browser, locally; `--export DIR` writes a Space repository instead. Its
flags are the Space's own (avemo.space.options), which `python app.py` takes on Hugging Face Spaces too."""

import sys

from avemo.cli.common import add_debug_flag
from avemo.space.options import add_space_arguments


def add_parser(commands) -> None:
    """Add the `avemo space` subparser: the Space's own flags, and --export to write a Space repository instead."""
    space = commands.add_parser(
        "space",
        help="the Gradio Space in your browser (needs avemo[space]); --export DIR writes a Space repository",
        description="Starts avemo's Space locally: upload a video or a picture, or record one with the webcam, and see "
        "the label probabilities, per-frame scores, the faces read and the model's provenance. Offline with the "
        "shipped model. Host and port default to Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT.",
    )
    add_space_arguments(space)  # the Space's own flags (python app.py on Hugging Face Spaces)
    space.add_argument(
        "--export",
        metavar="DIR",
        default=None,
        help="instead of serving, write a Space repository to DIR: app.py, README.md, requirements.txt, avemo's code, "
        "the model (a local --model is exported into DIR/model) and the example media found",
    )
    space.add_argument("--overwrite", action="store_true", help="with --export: replace an earlier export in DIR")
    add_debug_flag(space)
    space.set_defaults(run=run)


def run(args) -> int:
    """Serve the Space (until interrupted), or with --export write a Space repository. Returns the exit status (0)."""
    if args.export:
        from avemo.space.export import export_space

        if args.model and len(args.model) > 1:
            raise ValueError(
                "--export writes a Space with one model; set AVEMO_MODEL to several (comma-separated) in the exported "
                "Space for an ensemble"
            )
        files = export_space(
            args.export,
            model=args.model[0] if args.model else None,
            overwrite=args.overwrite,
            max_seconds=args.max_duration,
            max_mb=args.max_file_mb,
            log=lambda message: print(f"avemo space: {message}", file=sys.stderr),
        )
        print(
            f"wrote the Space {args.export} ({len(files)} files); run it with `python app.py` there, "
            "or upload it as a Gradio Space",
            file=sys.stderr,
        )
        return 0
    try:
        import gradio  # noqa: F401
    except ImportError as error:
        raise RuntimeError('the Space needs Gradio: pip install "avemo[space]"') from error
    from avemo.space.app import launch, settings_from_args

    print("avemo space: loading the model (Ctrl+C stops the server)", file=sys.stderr)
    launch(settings_from_args(args), host=args.host, port=args.port)
    return 0
