"""`avemo train-faces`: the paper's image stage, a face CNN fine-tuned on expression images; OUT/best feeds
`avemo init --face-from` and `avemo train --face-from`."""

import sys

from avemo.cli.common import add_debug_flag, training_summary
from avemo.cli.train import add_augmentation_options, augmentation_from_args
from avemo.options import add_dataclass_options, options_from_args


def add_parser(commands) -> None:
    """Add the `avemo train-faces` subparser: TrainFacesOptions' flags (the image-stage wording of those shared with
    avemo train), then the augmentation flags."""
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
    add_augmentation_options(faces)
    add_debug_flag(faces)
    faces.set_defaults(run=run)


def run(args) -> int:
    """Train the image stage and say where the face CNN went and what to run next. Returns the exit status (0)."""
    from avemo.train.images import TrainFacesOptions, train_faces

    options = options_from_args(TrainFacesOptions, args, augment=augmentation_from_args(args))
    metrics = train_faces(options)
    if metrics:
        print(
            f"face CNN: {options.output_dir}/best (test images: {training_summary(metrics)}); "
            f"next: avemo train --face-from {options.output_dir}/best ...",
            file=sys.stderr,
        )
    return 0
