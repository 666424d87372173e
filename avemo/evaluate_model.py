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
    model: str,
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
) -> dict:
    """Metrics of `model` on the clips of `data_dir`; writes `output` (JSON) and the PNG beside it."""
    import numpy as np
    import torch

    from .caching import cache_features, drop_failed
    from .collator import AVEmoCollator
    from .corpora import load_corpus, speaker_split
    from .evaluation import classification_metrics, plot_confusion_matrix
    from .inference import Predictor

    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not valid; allowed values: {', '.join(SPLITS)}")
    predictor = Predictor(model, device=device)
    dataset = load_corpus(corpus, data_dir, crowd_labels=crowd_labels)
    if split != "all":
        dataset = speaker_split(dataset, corpus)[split]
    labels = dataset.features["label"].names
    to_model = label_mapping(labels, predictor.labels, model)
    with tempfile.TemporaryDirectory() as scratch:
        cached = cache_features(dataset, predictor.processor, cache_dir or scratch, num_proc=num_proc, desc="evaluate: faces + audio")
        skipped = [{"file": path, "error": error} for path, error in zip(cached["path"], cached["error"]) if error]
        cached = drop_failed(cached, log=log)
        if len(cached) == 0:
            raise ValueError(f"{data_dir}: none of the {len(dataset)} clips could be processed")
        collator = AVEmoCollator(predictor.processor, train=False, frames=predictor.processor.num_frames)
        predictions = []
        with torch.inference_mode():
            for start in range(0, len(cached), batch_size):
                rows = [cached[index] for index in range(start, min(len(cached), start + batch_size))]
                inputs = {k: v.to(predictor.device) for k, v in collator(rows).items() if k != "labels"}
                predictions.append(predictor.model(**inputs).logits.argmax(-1).cpu())
        references = np.asarray([to_model[label] for label in cached["label"]])
    predicted = torch.cat(predictions).numpy()
    num_labels = len(predictor.labels)
    metrics = classification_metrics(predicted, references, num_labels)
    report = {
        **metrics,
        "labels": predictor.labels,
        "num_clips": int(len(references)),
        "skipped": skipped,
        "model": str(model),
        "data_dir": str(data_dir),
        "corpus": corpus,
        "split": split,
        "model_trained": bool(predictor.model.config.trained),
    }
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    title = f"{Path(model).name} on {corpus} ({split}): accuracy {metrics['accuracy']:.1%}, UAR {metrics['uar']:.1%}"
    plot_confusion_matrix(metrics["confusion_matrix"], predictor.labels, output.with_suffix(".png"), title=title)
    return report
