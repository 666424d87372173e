"""`avemo export`: a model as a complete hub repository folder with its model card, or with `--onnx` as an ONNX
folder for onnxruntime."""

import sys
from pathlib import Path

from avemo.cli.common import add_debug_flag, megabytes, path_problem


def add_parser(commands) -> None:
    """Add the `avemo export` subparser (a hub folder, or with --onnx an ONNX folder)."""
    export = commands.add_parser(
        "export",
        help="write a model as a complete hub repository folder with its model card",
        description="Writes config.json (with auto_map), model.safetensors, processor_config.json (with auto_map), the "
        "remote-code files and the model card as README.md, and nothing else (no pickles, no optimizer state).",
    )
    export.add_argument(
        "--model",
        "-m",
        default=None,
        help="model folder, shipped model name or hub id (default: the shipped fer2013-faces)",
    )
    export.add_argument("--output", "-o", required=True, metavar="HUBDIR", help="folder to write")
    export.add_argument(
        "--metrics", default=None, help="an `avemo evaluate` JSON: its results go into the card's model-index"
    )
    export.add_argument(
        "--repo-id", default=None, help="hub id the card's examples load from (default: the folder, as a local path)"
    )
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export in HUBDIR (or ONNX folder)")
    onnx = export.add_argument_group(
        "ONNX",
        "--onnx writes model.onnx (dynamic batch, frames and audio length), config.json and processor_config.json "
        "instead, and checks onnxruntime's logits against PyTorch's (needs avemo[onnx])",
    )
    onnx.add_argument(
        "--onnx", action="store_true", help="write an ONNX folder for onnxruntime instead of a hub folder"
    )
    onnx.add_argument(
        "--example-video",
        action="append",
        metavar="VIDEO",
        help="with --onnx: also check the processor's inputs of this video or image (repeatable); the graph is "
        "traced and checked on synthetic inputs made from the config either way",
    )
    add_debug_flag(export)
    export.set_defaults(run=run)


def run(args) -> int:
    """Write the hub folder (or, with --onnx, the ONNX folder) and say what was written. Returns the exit status: 0, or
    2 for flags of the other mode."""
    if args.onnx:
        return _run_onnx(args)
    if args.example_video:
        print("avemo export: error: --example-video is for --onnx", file=sys.stderr)
        return 2
    from avemo.hub_card import export_model

    files = export_model(
        args.model,
        args.output,
        metrics=args.metrics,
        repo_id=args.repo_id,
        overwrite=args.overwrite,
        log=lambda message: print(f"avemo export: {message}", file=sys.stderr),
    )
    output = Path(args.output)
    code = [name for name in files if name.endswith(".py")]
    weights = [name for name in files if name.endswith(".safetensors")]
    size = sum((output / name).stat().st_size for name in files)
    card = "model card with model-index from " + Path(args.metrics).name if args.metrics else "model card"
    print(
        f"wrote {output} ({megabytes(size)}): config.json, processor_config.json, {', '.join(weights)}, "
        f"{len(code)} code files, README.md ({card})",
        file=sys.stderr,
    )
    print(f"next: avemo push {output} --repo-id USER/NAME [--dry-run]", file=sys.stderr)
    return 0


def _run_onnx(args) -> int:
    for flag, value in (("--metrics", args.metrics), ("--repo-id", args.repo_id)):
        if value:
            print(f"avemo export: error: {flag} is for hub folders; an ONNX folder has no model card", file=sys.stderr)
            return 2
    videos = args.example_video or []
    for video in videos:
        problem = path_problem(video)
        if problem:  # before the model loads
            print(f"avemo export: error: {problem}", file=sys.stderr)
            return 1
    from avemo.hub_card.onnx_export import export_onnx

    export = export_onnx(
        args.model,
        args.output,
        overwrite=args.overwrite,
        example_videos=videos,
        log=lambda message: print(f"avemo export: {message}", file=sys.stderr),
    )
    size = sum((export.folder / name).stat().st_size for name in export.files)
    print(
        f"wrote {export.folder} ({megabytes(size)}): {', '.join(export.files)}; onnxruntime's logits are within "
        f"{export.max_difference:.1e} of PyTorch's (max over {len(export.differences)} inputs)",
        file=sys.stderr,
    )
    return 0
