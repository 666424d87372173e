"""`avemo init`: write a model folder (config, weights, processor, code)."""

import sys

from avemo.cli.common import add_debug_flag
from avemo.model_folders.pretrained import PRESETS
from avemo.options import BackboneFiles, add_dataclass_options


def add_parser(commands) -> None:
    """Add the `avemo init` subparser: the output folder, a preset or config, published backbone files and the frame
    count."""
    init = commands.add_parser("init", help="write a model folder (config, weights, processor, code)")
    init.add_argument("--output", "-o", required=True, help="folder to write")
    init.add_argument(
        "--preset",
        choices=PRESETS,
        help="fer2013-faces: the shipped faces model (trained); fer2013-audio-visual: audio-video model whose face "
        "CNN starts from the FER2013 network (fusion and classifier to train)",
    )
    init.add_argument("--config", help="JSON file of AVEmoConfig fields (a saved config.json works too)")
    add_dataclass_options(init, BackboneFiles)
    init.add_argument("--num-frames", type=int, default=8, help="frames sampled per clip by the processor (default 8)")
    init.add_argument("--overwrite", action="store_true", help="replace a model already in --output")
    add_debug_flag(init)
    init.set_defaults(run=run)


def run(args) -> int:
    """Write the model folder and say what its weights start from. Returns the exit status (0)."""
    from avemo.model_folders.create import init_model_folder
    from avemo.model_folders.configs import read_config_file

    config = read_config_file(args.config) if args.config else None
    output = init_model_folder(
        args.output,
        config,
        preset=args.preset,
        ir50=args.ir50,
        alexnet=args.alexnet,
        resnet18=args.resnet18,
        resnet18_recipe=args.resnet18_recipe,
        fer=args.fer,
        vggface=args.vggface,
        face_from=args.face_from,
        overwrite=args.overwrite,
        num_frames=args.num_frames,
    )
    if args.preset == "fer2013-faces":
        print(f"wrote {output} (the shipped FER2013 faces model, ready to predict or fine-tune)", file=sys.stderr)
        return 0
    loaded = [name for name in ("ir50", "alexnet", "resnet18", "fer", "vggface") if getattr(args, name)]
    if args.face_from:
        loaded.insert(0, f"face CNN of {args.face_from}")
    if args.preset == "fer2013-audio-visual":
        loaded.insert(0, "FER2013 face CNN")
    backbones = f"pretrained {', '.join(loaded)}" if loaded else "random weights"
    print(f"wrote {output} ({backbones}; untrained classifier: train it with avemo train)", file=sys.stderr)
    return 0
