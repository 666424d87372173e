"""`avemo evaluate`: a trained model on a corpus folder -> metrics JSON and a confusion-matrix PNG."""

import json
import tempfile
from pathlib import Path

SPLITS = ("all", "train", "validation", "test")


def label_mapping(corpus_labels: list[str], model_labels: list[str], model: str) -> list[int]:
    """Model class index of each corpus label (matched by name, case-insensitively)."""
    by_name = {label.lower(): index for index, label in enumerate(model_labels)}
    missing = [label for label in corpus_labels if label.lower() not in by_name]
    if missing:
        raise ValueError(
            f"{model}: the model's labels {model_labels} do not cover the corpus labels {missing}; "
            "evaluate a model trained on this corpus' label set"
        )
    return [by_name[label.lower()] for label in corpus_labels]


def evaluate_model(
    model,
    data_dir: str,
    corpus: str,
    output: str,
    split: str = "all",
    batch_size: int = 8,
    num_proc: int = 1,
    cache_dir: str | None = None,
    crowd_labels: str | None = None,
    device: str | None = None,
    log=print,
    weights=None,
) -> dict:
    """Metrics of `model` (a model, or a list of models: their weighted mean probabilities, an ensemble) on the
    clips of `data_dir`; writes `output` (JSON) and the confusion-matrix PNG beside it. Returns the report written
    (the metrics, the labels, the clips counted and skipped, what was evaluated)."""
    import numpy as np
    import torch

    from avemo.evaluation.metrics import classification_metrics
    from avemo.inference.ensemble import EnsemblePredictor
    from avemo.inference.scores import weighted_mean

    dataset = _clips(corpus, data_dir, split, crowd_labels)  # before the models load: a bad corpus is named at once
    models = [model] if isinstance(model, (str, Path)) else list(model)
    ensemble = EnsemblePredictor(models, weights=weights, device=device)
    name = str(models[0]) if len(models) == 1 else f"an ensemble of {len(models)} models"
    to_model = label_mapping(dataset.features["label"].names, ensemble.labels, name)
    usable = np.ones(len(dataset), dtype=bool)
    skipped, probabilities = {}, []
    with tempfile.TemporaryDirectory() as scratch:
        for index, member in enumerate(ensemble.members):
            member_cache = cache_dir or Path(scratch) / str(index)
            rows, errors = _member_probabilities(member, dataset, member_cache, num_proc, batch_size)
            probabilities.append(rows)
            skipped.update({path: error for path, error in errors.items() if error and path not in skipped})
            usable &= np.array([not error for error in errors.values()])
    for path, error in list(skipped.items())[:20]:
        log(f"skipped {error}" if path in error else f"skipped {path}: {error}")
    if not usable.any():
        raise ValueError(f"{data_dir}: none of the {len(dataset)} clips could be processed")
    combined = weighted_mean(probabilities, ensemble.orders, ensemble.weights)
    predicted = combined[torch.from_numpy(usable)].argmax(-1).numpy()
    references = np.asarray([to_model[label] for label, ok in zip(dataset["label"], usable) if ok])
    report = {
        **classification_metrics(predicted, references, len(ensemble.labels)),
        "labels": ensemble.labels,
        "num_clips": int(len(references)),
        "skipped": [{"file": path, "error": error} for path, error in skipped.items()],
        "model": str(models[0]) if len(models) == 1 else [str(m) for m in models],
        "data_dir": str(data_dir),
        "corpus": corpus,
        "split": split,
        "model_trained": all(bool(member.model.config.trained) for member in ensemble.members),
        **({"weights": ensemble.weights} if len(models) > 1 else {}),
    }
    _write_report(report, Path(output), models, corpus, split)
    return report


def _clips(corpus: str, data_dir, split: str, crowd_labels: str | None):
    """The corpus' clips to evaluate on: all of them, or one part of its speaker-independent split."""
    from avemo.corpora import load_corpus, speaker_split

    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not valid; allowed values: {', '.join(SPLITS)}")
    dataset = load_corpus(corpus, data_dir, crowd_labels=crowd_labels)
    return dataset if split == "all" else speaker_split(dataset, corpus)[split]


def _member_probabilities(member, dataset, cache_dir, num_proc: int, batch_size: int):
    """One ensemble member's label probabilities of every clip (rows of the clips it could not process stay zero),
    in its own label order, and each clip's path with its error ("" where it was processed), in the clips' order."""
    import torch

    from avemo.data.caching import cache_features
    from avemo.data.collator import AVEmoCollator

    cached = cache_features(dataset, member.processor, cache_dir, num_proc=num_proc, desc="evaluate: faces + audio")
    errors = dict(zip(cached["path"], cached["error"]))
    good = [row for row, error in enumerate(cached["error"]) if not error]
    probabilities = torch.zeros(len(dataset), len(member.labels))
    collator = AVEmoCollator(member.processor, train=False, frames=member.processor.num_frames)
    with torch.inference_mode():
        for start in range(0, len(good), batch_size):
            rows = good[start : start + batch_size]
            batch = collator([cached[row] for row in rows])
            inputs = {key: value.to(member.device) for key, value in batch.items() if key != "labels"}
            probabilities[rows] = member.model(**inputs).logits.float().softmax(-1).cpu()
    return probabilities, errors


def _write_report(report: dict, output: Path, models: list, corpus: str, split: str) -> None:
    """The report as JSON at `output` and its confusion matrix as the PNG beside it."""
    from avemo.evaluation.metrics import plot_confusion_matrix

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    title_name = Path(models[0]).name if len(models) == 1 else f"ensemble of {len(models)}"
    title = f"{title_name} on {corpus} ({split}): accuracy {report['accuracy']:.1%}, UAR {report['uar']:.1%}"
    plot_confusion_matrix(report["confusion_matrix"], report["labels"], output.with_suffix(".png"), title=title)
