"""`avemo train`: corpus -> cached features -> Trainer -> the best model as a hub-ready folder at OUT/best.

Runs the same on one CPU, one GPU, or several processes under `accelerate launch` (the Trainer reads the
launcher's environment: DDP, mixed precision). Feature caching runs on the main process first; the other ranks
then read the cache.
"""

import json
import logging
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from avemo.data.augmentation import AugmentConfig
from avemo.corpora import corpus_names
from avemo.options import BackboneFiles, option, same_option

logger = logging.getLogger("avemo.train.video")


@dataclass
class TrainOptions:
    """`avemo train` options: each field is one flag of the command (`--data-dir` for `data_dir`), with this help
    text and default (avemo.options builds the parser from them)."""

    data_dir: str = option(help="corpus folder (for csv: the CSV file or its folder)")
    corpus: str = option(help="how to read --data-dir (file names, folders, labels)", choices=corpus_names)
    output_dir: str = option(help="checkpoints, feature cache and OUT/best")
    config: str | None = option(None, "JSON of AVEmoConfig fields (architecture); labels come from the corpus")
    init_from: str | None = option(
        None, "start from this model folder or shipped model (e.g. avemo init --ir50 --alexnet)"
    )
    face_from: str | None = same_option(BackboneFiles, "face_from")
    ir50: str | None = same_option(BackboneFiles, "ir50")
    alexnet: str | None = same_option(BackboneFiles, "alexnet")
    resnet18: str | None = same_option(BackboneFiles, "resnet18")
    resnet18_recipe: str | None = same_option(BackboneFiles, "resnet18_recipe")
    crowd_labels: str | None = option(
        None,
        "CREMA-D: crowd-perceived labels of summaryTable.csv (default: the acted labels)",
        choices=("voice", "face", "multimodal"),
    )
    split: str = option(
        "speaker",
        "speaker: a speaker-independent split; none: train and evaluate on every clip (fitting checks only)",
        choices=("speaker", "none"),
    )
    max_steps: int = option(-1, "stop after N optimizer steps (default: -1, none: --epochs decides)")
    epochs: float = option(30.0, "passes over the training split (unless --max-steps)")
    # 2 clips a step, 4 steps summed: the effective batch of 8 in 3.2 GB on a CPU (8 at once peaked at 6.3 GB).
    batch_size: int = option(2, "clips per device and step")
    eval_batch_size: int | None = option(
        None, "clips per device in evaluation (default: 8; no gradients, little memory)"
    )
    learning_rate: float = option(
        1e-4, "AdamW learning rate of the attention, fusion and classifier", flags=("--learning-rate", "--lr")
    )
    backbone_lr_scale: float = option(0.1, "learning-rate factor of the two CNNs")
    weight_decay: float = option(1e-4, "AdamW weight decay (not on biases and norm layers)")
    warmup_ratio: float = option(0.05, "share of the steps with a linear learning-rate warm-up")
    gradient_accumulation_steps: int = option(
        4, "batches summed per optimizer step (a larger effective batch in the same memory)"
    )
    mixed_precision: str = option("no", "autocast precision on a GPU", choices=("no", "bf16", "fp16"))
    gradient_checkpointing: bool = option(
        False, "recompute the CNNs' activations in the backward pass: about 3x less activation memory, slower steps"
    )
    freeze_face: bool = option(False, "do not train the face CNN")
    freeze_audio: bool = option(False, "do not train the audio CNN")
    class_weights: bool = option(False, "inverse-frequency class weights in the loss")
    num_frames: int = option(16, "faces cached per clip")
    train_frames: int = option(8, "faces per clip seen by the model (random subset in training)")
    audio_crop_seconds: float | None = option(
        None, "random audio crop of this length in training (default: none, the whole clip)"
    )
    # On by default (the paper's best single model was trained with augmentation); AugmentConfig.none() switches
    # it off. Only the training collator uses it. Its flags are AugmentConfig's fields (avemo.cli).
    augment: AugmentConfig = option(default_factory=AugmentConfig, cli=False)
    num_proc: int = option(1, "processes for feature caching")
    cache_dir: str | None = option(None, "feature cache (default: OUT/cache)")
    dataloader_workers: int = option(0, "DataLoader worker processes")
    logging_steps: int = option(10, "print the loss every N steps (at least twice a run)")
    seed: int = option(0, "seed of the split, the initialisation and the sampling")
    resume: bool = option(False, "continue from the last checkpoint in OUT/checkpoints")


def build_model_and_processor(options: TrainOptions, labels: list[str]):
    """The classifier to train, with the corpus labels, and its processor: from --init-from (a model folder or
    shipped model, relabelled if its labels differ), else from --config or the default config; then the face CNN of
    --face-from and the published backbones given. Returns (model, processor)."""
    from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification

    from avemo.model_folders.backbones import load_backbones
    from avemo.model_folders.configs import default_processor, read_config_file
    from avemo.model_folders.face_transfer import load_face_from, with_face_of
    from avemo.model_folders.loading import load_model, load_model_folder

    if options.face_from and (options.ir50 or options.resnet18):
        raise ValueError(
            f"give either --face-from or --{'ir50' if options.ir50 else 'resnet18'}: both set the face CNN"
        )
    if options.init_from:
        loaded = load_model_folder(options.init_from)  # a folder, or a shipped model's name
        model, processor = loaded.model, loaded.processor
        if model.config.labels != list(labels):
            model.relabel(labels)  # keeps the backbones (and the rows of labels both sets share)
    else:
        config = read_config_file(options.config) if options.config else AVEmoConfig()
        config.num_labels = len(labels)  # first: transformers resets id2label when num_labels changes
        config.id2label = dict(enumerate(labels))
        config.label2id = {label: index for index, label in enumerate(labels)}
        model = AVEmoForVideoClassification(config)
        processor = default_processor(config)
    if options.face_from:
        # The face CNN of the image stage (avemo train-faces), with the crops it was trained on.
        source = load_model(options.face_from)
        if not options.init_from:  # a fresh model takes the source's face settings (an --init-from model must match)
            model = AVEmoForVideoClassification(with_face_of(model.config, source.config))
            processor = default_processor(model.config)
        load_face_from(model, source)
    backbones = {"ir50": options.ir50, "alexnet": options.alexnet, "resnet18": options.resnet18}
    if "resnet18" in load_backbones(model, backbones, options.resnet18_recipe):
        processor = default_processor(model.config)  # the face recipe follows the weights (ImageNet's or FAN's crops)
    processor.num_frames = options.num_frames
    return model, processor


def _compute_metrics(num_labels: int):
    from avemo.evaluation.metrics import classification_metrics

    def compute(prediction):
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        metrics = classification_metrics(logits.argmax(-1), prediction.label_ids, num_labels)
        metrics.pop("confusion_matrix")
        return metrics

    return compute


def train(options: TrainOptions) -> dict:
    """Train and write OUT/best; returns the test-split metrics (on the main process; {} elsewhere)."""
    from transformers import set_seed

    from avemo.data.caching import cache_features, drop_failed
    from avemo.corpora import load_corpus, speaker_split
    from avemo.train.trainer import freeze_backbones

    set_seed(options.seed)
    output_dir = Path(options.output_dir)
    corpus = load_corpus(options.corpus, options.data_dir, crowd_labels=options.crowd_labels)
    labels = corpus.features["label"].names
    model, processor = build_model_and_processor(options, labels)
    if options.freeze_face:
        freeze_backbones(model, ("face",))
    if options.freeze_audio:
        freeze_backbones(model, ("audio",))

    args = training_arguments(options, output_dir)
    with args.main_process_first(desc="feature caching"):
        cached = cache_features(corpus, processor, options.cache_dir or output_dir / "cache", num_proc=options.num_proc)
    cached = drop_failed(cached, log=logger.warning if args.process_index else print)
    if options.split == "none":
        # Fitting checks only: the reported metrics then measure memorisation, not generalisation.
        splits = {"train": cached, "validation": cached, "test": cached}
    else:
        splits = speaker_split(cached, options.corpus, seed=options.seed)
    return fit(
        options,
        args,
        model,
        processor,
        splits,
        labels,
        run={
            "tool": "avemo train",
            "corpus": options.corpus,
            "split": "speaker-independent" if options.split == "speaker" else "none (every clip in every split)",
        },
        test_source="avemo train: held-out speakers" if options.split == "speaker" else None,
        frames=options.train_frames,
        info={"corpus": options.corpus, "data_dir": str(options.data_dir)},
    )


def training_arguments(options, output_dir: Path):
    """The Trainer's arguments from the options every avemo training command shares (see TrainOptions)."""
    import torch
    from transformers import TrainingArguments

    args = TrainingArguments(
        output_dir=str(output_dir / "checkpoints"),
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=options.eval_batch_size or 8,
        learning_rate=options.learning_rate,
        weight_decay=options.weight_decay,
        warmup_steps=options.warmup_ratio,  # a float in [0, 1) is a share of the steps
        num_train_epochs=options.epochs,
        max_steps=options.max_steps,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        bf16=options.mixed_precision == "bf16",
        fp16=options.mixed_precision == "fp16",
        gradient_checkpointing=options.gradient_checkpointing,
        logging_steps=options.logging_steps,
        eval_strategy="epoch",
        save_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="uar",
        greater_is_better=True,
        save_total_limit=2,
        remove_unused_columns=False,
        dataloader_num_workers=options.dataloader_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        # Without a GPU, say so: several processes then run DDP over gloo instead of as independent runs.
        use_cpu=not torch.cuda.is_available(),
        ddp_find_unused_parameters=True,  # a batch without faces (or audio) leaves that CNN unused
        report_to=[],
        seed=options.seed,
        # A bar on a terminal; in a log file the plain lines of PlainTrainingLog say the same without cursor codes.
        disable_tqdm=not sys.stderr.isatty(),
        logging_first_step=True,
    )
    if not sys.stderr.isatty():
        import datasets

        datasets.disable_progress_bars()
    return args


def fit(
    options,
    args,
    model,
    processor,
    splits: dict,
    labels: list[str],
    run: dict,
    test_source: str | None,
    frames: int | None,
    info: dict,
) -> dict:
    """Train on splits["train"] (keeping the best validation UAR), evaluate on splits["test"], write OUT/best with
    its provenance (the run, and the test result when `test_source` says what held-out data it is) and
    OUT/best/training_info.json. Returns the test metrics on the main process ({} elsewhere)."""
    for name, split in splits.items():
        if len(split) == 0:
            raise ValueError(f"the {name} split is empty: {options.data_dir} holds too few usable examples")
    if args.process_index == 0:
        print(split_table(splits, labels), flush=True)
    _schedule_evaluation_and_logging(options, args, len(splits["train"]))
    trainer = _make_trainer(options, args, model, processor, splits, labels, frames)
    # The provenance record of this run, in the config of every checkpoint and of OUT/best.
    record = model.training_run(
        **run,
        split_sizes={name: len(split) for name, split in splits.items()},
        labels=list(labels),
        augmentation=options.augment.to_dict(),
    )
    checkpoints = list((Path(options.output_dir) / "checkpoints").glob("checkpoint-*"))
    result = trainer.train(resume_from_checkpoint=True if options.resume and checkpoints else None)
    processes = f" in each of {args.world_size} processes" if args.world_size > 1 else ""
    print(
        f"process {args.process_index + 1} of {args.world_size}: trained {result.global_step} steps{processes}",
        flush=True,
    )
    test_metrics = trainer.evaluate(splits["test"], metric_key_prefix="test")
    record.update(
        steps=result.global_step,
        epochs=round(float(trainer.state.epoch or 0), 3),
        best_validation_uar=trainer.state.best_metric,
    )
    _record_test(trainer.model.config, run, splits["test"], test_metrics, test_source)
    return _export_best(options, args, trainer, processor, splits, labels, result, test_metrics, frames, info)


def _schedule_evaluation_and_logging(options, args, train_size: int) -> None:
    """Evaluate (and keep the best) once per epoch, or at least once in a short run; log the loss at least twice."""
    per_step = max(1, options.batch_size * args.world_size * options.gradient_accumulation_steps)
    if options.max_steps > 0:
        every = max(1, min(options.max_steps, max(1, train_size // per_step)))
        args.eval_strategy = args.save_strategy = "steps"
        args.eval_steps = args.save_steps = every
    # The loss is shown at least once an epoch (and the Trainer adds the first step and the end of training).
    total_steps = options.max_steps if options.max_steps > 0 else int(options.epochs * train_size / per_step)
    args.logging_steps = max(1, min(options.logging_steps, total_steps // 2 or 1))


def _make_trainer(options, args, model, processor, splits: dict, labels: list[str], frames: int | None):
    """The Trainer with avemo's collators (augmenting only in training), metrics, loss and plain log lines."""
    import numpy as np
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from avemo.data.collator import AVEmoCollator
    from avemo.train.trainer import AVEmoTrainer, class_weights_from_counts

    class_weights = None
    if options.class_weights:
        counts = np.bincount(np.asarray(splits["train"]["label"]), minlength=len(labels))
        class_weights = class_weights_from_counts(counts)
    trainer = AVEmoTrainer(
        model=model,
        args=args,
        train_dataset=splits["train"],
        eval_dataset=splits["validation"],
        data_collator=AVEmoCollator(
            processor,
            train=True,
            frames=frames,
            audio_crop_seconds=getattr(options, "audio_crop_seconds", None),
            augment=options.augment,
        ),
        eval_data_collator=AVEmoCollator(processor, train=False, frames=frames),
        compute_metrics=_compute_metrics(len(labels)),
        class_weights=class_weights,
        backbone_lr_scale=options.backbone_lr_scale,
        callbacks=[plain_training_log()],
    )
    # The plain lines replace the Trainer's printed dicts of logs (in a file) and its dicts under the bar (on a
    # terminal, where the bar itself stays).
    trainer.remove_callback(PrinterCallback)
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(_bar_without_logs())
    return trainer


def _record_test(config, run: dict, test_split, test_metrics: dict, test_source: str | None) -> None:
    """The held-out result in the provenance (when the test split is held out), and a summary that stays true."""
    import numpy as np

    provenance = config.provenance
    if provenance.get("summary"):  # what the model was is no longer what it is
        provenance["summary"] = (
            f"fine-tuned by {run['tool']} on {run['corpus']}, starting from: {provenance['summary']}"
        )
    if test_source is None:
        return
    config.record_evaluation(
        split="test",
        corpus=run["corpus"],
        clips=len(test_split),
        accuracy=round(test_metrics["test_accuracy"], 4),
        uar=round(test_metrics["test_uar"], 4),
        macro_f1=round(test_metrics["test_macro_f1"], 4),
        # UAR averages the recall of the classes present: guessing scores 1 / their number.
        chance_uar=round(1 / len(set(np.asarray(test_split["label"]).tolist())), 4),
        source=test_source,
    )


def _export_best(options, args, trainer, processor, splits, labels, result, test_metrics, frames, info) -> dict:
    """OUT/best as a model folder (no optimizer state, no pickle) with training_info.json; the last checkpoint
    alone is kept for --resume. Returns the test metrics on the main process ({} elsewhere)."""
    output_dir = Path(options.output_dir)
    best = output_dir / "best"
    if frames is not None:
        processor.num_frames = frames  # inference samples as evaluation did
    trainer.save_model(str(best))  # main process only
    if not trainer.is_world_process_zero():
        return {}
    processor.save_pretrained(best)
    (best / "training_args.bin").unlink(missing_ok=True)  # a pickle, and training state: best/ is a model folder
    _keep_last_checkpoint(output_dir / "checkpoints")
    info = {
        **info,
        "labels": labels,
        "split_sizes": {name: len(split) for name, split in splits.items()},
        "world_size": args.world_size,
        "global_step": result.global_step,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_validation_uar": trainer.state.best_metric,
        "test": {key.removeprefix("test_"): value for key, value in test_metrics.items()},
        "options": asdict(options),
    }
    (best / "training_info.json").write_text(json.dumps(info, indent=2))
    return info["test"]


def split_table(splits: dict, labels: list[str]) -> str:
    """Clips per label in each split, printed before training so that a wrong split is seen at once."""
    import numpy as np

    counts = {name: np.bincount(np.asarray(split["label"]), minlength=len(labels)) for name, split in splits.items()}
    width = max(len(label) for label in labels + ["label"])
    lines = [f"{'label':<{width}}  " + "  ".join(f"{name:>10}" for name in counts)]
    for index, label in enumerate(labels):
        lines.append(f"{label:<{width}}  " + "  ".join(f"{int(count[index]):>10}" for count in counts.values()))
    lines.append(f"{'all':<{width}}  " + "  ".join(f"{int(count.sum()):>10}" for count in counts.values()))
    return "clips per label and split:\n" + "\n".join(lines)


def _keep_last_checkpoint(folder: Path) -> None:
    """After a finished run only the last checkpoint is kept, for --resume; OUT/best holds the best weights."""
    checkpoints = sorted(folder.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[-1]))
    for old in checkpoints[:-1]:
        shutil.rmtree(old, ignore_errors=True)


def _bar_without_logs():
    from transformers.trainer_callback import ProgressCallback

    class BarWithoutLogs(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            pass  # PlainTrainingLog prints them

    return BarWithoutLogs()


def plain_training_log():
    """A callback printing loss and validation metrics as plain lines (the class is made on first use, so that
    importing this module, as the CLI's --help does, stays light)."""
    from transformers import TrainerCallback

    class PlainTrainingLog(TrainerCallback):
        """Loss and validation metrics as plain lines (main process), readable in a log file."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            """Print the step's loss and learning rate, or the mean loss when training ends."""
            if not state.is_world_process_zero or not logs:
                return
            if "loss" in logs:
                epoch = f"epoch {state.epoch:.2f}, " if state.epoch is not None else ""
                print(
                    f"step {state.global_step}/{state.max_steps}: {epoch}loss {logs['loss']:.4f}, "
                    f"learning rate {logs.get('learning_rate', 0):.2e}",
                    flush=True,
                )
            elif "train_loss" in logs:
                print(f"training done: {state.global_step} steps, mean loss {logs['train_loss']:.4f}", flush=True)

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            """Print the evaluation's loss, accuracy, UAR and macro F1."""
            if not state.is_world_process_zero or not metrics:
                return
            shown = {
                key.split("_", 1)[1]: value
                for key, value in metrics.items()
                if key.split("_", 1)[-1] in ("loss", "accuracy", "uar", "macro_f1")
            }
            name = next(iter(metrics)).split("_", 1)[0] if metrics else "eval"
            split = "validation" if name == "eval" else name
            print(
                f"step {state.global_step}: {split} " + ", ".join(f"{key} {value:.4f}" for key, value in shown.items()),
                flush=True,
            )

    return PlainTrainingLog()
