"""Model cards for avemo model folders, rendered with huggingface_hub's `ModelCard` / `ModelCardData`.

    from avemo.hub_card import build_model_card
    card = build_model_card("runs/ravdess/best", metrics="runs/ravdess/test.json", repo_id="me/avemo-ravdess")
    card.save("hub/README.md")

Everything the card states comes from the model folder (config.json: labels, architecture, `provenance`, face recipe;
processor_config.json: frames per clip) and from an `avemo evaluate` JSON when one is given. Provenance entries are
rendered generically: keys the card does not know are shown as they are, so what a newer avemo records appears
without a change here.
"""

import json
import math
import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from .references import PAPER, Reference, cited

TEMPLATE_PATH = Path(__file__).resolve().parent / "modelcard_template.md"

# Known keys first, in this order; any other key follows, in the order the record has it.
_KEY_ORDER = {
    "weights": ("part", "source", "trained_on", "reference", "license", "sha256"),
    "training": ("tool", "corpus", "dataset", "date", "steps", "epochs", "train_clips", "labels"),
    "evaluation": ("dataset", "corpus", "split", "clips", "accuracy", "uar", "macro_f1", "chance_uar", "source"),
}
_KEY_NAMES = {
    "trained_on": "trained on",
    "license": "licence",
    "train_clips": "training clips",
    "uar": "UAR",
    "macro_f1": "macro F1",
    "chance_uar": "chance UAR",
}
CORPUS_NAMES = {"ravdess": "RAVDESS", "crema-d": "CREMA-D", "afew": "AFEW 8.0", "csv": "a CSV list of clips"}
METRICS = (("accuracy", "Accuracy"), ("uar", "UAR (unweighted average recall)"), ("macro_f1", "Macro F1"))
# What the card says a model of each `modalities` value reads.
_MODALITY_TEXTS = {
    "audio_visual": "faces and speech (audio-video)",
    "visual": "faces only (the audio is not used)",
    "audio": "speech only (the faces are not used)",
}


class ModelCardError(ValueError):
    """A model folder or a metrics file cannot be turned into a card; the message names the file."""


# ----------------------------------------------------------------------------------------------- plain words


def _value_text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)) and all(isinstance(item, (str, int, float)) for item in value):
        return ", ".join(_value_text(item) for item in value) if value else "none"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if value is None:
        return "unknown"
    return str(value)


def _ordered_items(entry: dict, section: str) -> list[tuple[str, object]]:
    known = [key for key in _KEY_ORDER.get(section, ()) if key in entry]
    return [(key, entry[key]) for key in known] + [(key, value) for key, value in entry.items() if key not in known]


def entry_text(entry, section: str) -> str:
    """One provenance entry as a line of `name: value` pairs (every key shown; hashes in code style)."""
    if not isinstance(entry, dict):
        return _value_text(entry)
    parts = []
    for key, value in _ordered_items(entry, section):
        text = _value_text(value)
        if key == "sha256" and text:
            text = f"`{text}`"
        parts.append(f"{_KEY_NAMES.get(key, key.replace('_', ' '))}: {text}")
    return "; ".join(parts)


def provenance_sections(provenance: dict | None) -> dict[str, list[str]]:
    """`weights`, `training`, `evaluation` and any other list the record holds, each as lines of plain text."""
    provenance = dict(provenance or {})
    provenance.pop("summary", None)
    sections = {name: [] for name in ("weights", "training", "evaluation")}
    for name, entries in provenance.items():
        if entries is None:
            continue
        entries = entries if isinstance(entries, list) else [entries]
        sections.setdefault(name, [])
        sections[name] += [entry_text(entry, name) for entry in entries]
    return sections


_EMPTY = {
    "weights": "none recorded (random initialisation unless stated otherwise)",
    "training": "no training run recorded",
    "evaluation": "no held-out evaluation recorded",
}
_TITLES = {"weights": "Starting weights", "training": "Training runs", "evaluation": "Held-out evaluations"}


def _sentence(text) -> str:
    text = str(text or "").strip().rstrip(".")
    return f"{text[:1].upper()}{text[1:]}." if text else ""


def provenance_markdown(config, heading_level: int = 3, summary: bool = True) -> str:
    """The model's provenance record in plain words (Markdown), as the Space and the model card show it."""
    provenance = getattr(config, "provenance", None) or {}
    lines = []
    if summary and provenance.get("summary"):
        lines += [_sentence(provenance["summary"]), ""]
    for name, entries in provenance_sections(provenance).items():
        title = _TITLES.get(name, name.replace("_", " ").capitalize())
        lines.append(f"{'#' * heading_level} {title}")
        lines += [f"- {text}" for text in entries] or [f"- {_EMPTY.get(name, 'none')}"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------------------------- metrics


@dataclass
class Metrics:
    """An `avemo evaluate` result, as the card reports it."""

    path: str
    accuracy: float
    uar: float
    macro_f1: float
    num_clips: int | None
    labels: list[str]
    corpus: str | None
    split: str | None
    data_dir: str | None
    confusion_matrix: list | None = None
    extra: dict = field(default_factory=dict)

    @property
    def dataset_name(self) -> str:
        """The evaluation data's name for the card: a known corpus's (RAVDESS, ...), a CSV list's file name, else
        the corpus as given or "unnamed data set"."""
        if self.corpus == "csv" and self.data_dir:
            return Path(self.data_dir).stem
        return CORPUS_NAMES.get(self.corpus or "", self.corpus or "unnamed data set")

    @property
    def chance_uar(self) -> float | None:
        """The UAR of guessing, 1 / the number of labels; None without labels."""
        return 1 / len(self.labels) if self.labels else None


def read_metrics(path: str | PathLike, model_labels: list[str]) -> Metrics:
    """Read an `avemo evaluate` JSON; its labels must be the model's (else it measured another model)."""
    path = Path(path)
    if not path.is_file():
        raise ModelCardError(f"{path}: metrics file not found")
    try:
        report = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelCardError(f"{path}: not a JSON metrics file ({error})") from error
    if not isinstance(report, dict):
        raise ModelCardError(f"{path}: expected the JSON object written by `avemo evaluate`")
    missing = [key for key, _ in METRICS if not isinstance(report.get(key), (int, float))]
    if missing:
        raise ModelCardError(f"{path}: missing {', '.join(missing)} (expected the output of `avemo evaluate`)")
    labels = list(report.get("labels") or [])
    if labels and labels != list(model_labels):
        raise ModelCardError(
            f"{path}: measured with labels {labels}, but the model's labels are {list(model_labels)}: "
            "these metrics belong to another model"
        )
    known = {"accuracy", "uar", "macro_f1", "num_clips", "labels", "corpus", "split", "data_dir", "confusion_matrix"}
    return Metrics(
        path=str(path),
        accuracy=float(report["accuracy"]),
        uar=float(report["uar"]),
        macro_f1=float(report["macro_f1"]),
        num_clips=report.get("num_clips"),
        labels=labels or list(model_labels),
        corpus=report.get("corpus"),
        split=report.get("split"),
        data_dir=report.get("data_dir"),
        confusion_matrix=report.get("confusion_matrix"),
        extra={key: value for key, value in report.items() if key not in known},
    )


def _eval_results(metrics: Metrics) -> list:
    from huggingface_hub import EvalResult

    return [
        EvalResult(
            task_type="video-classification",
            task_name="Emotion recognition",
            dataset_type=metrics.corpus or "custom",
            dataset_name=metrics.dataset_name,
            dataset_split=metrics.split,
            metric_type=key,
            metric_name=name,
            metric_value=round(getattr(metrics, key), 4),
        )
        for key, name in METRICS
    ]


def _confusion_table(metrics: Metrics) -> str:
    matrix = metrics.confusion_matrix
    if not matrix or len(matrix) != len(metrics.labels):
        return ""
    header = "| true \\ predicted | " + " | ".join(metrics.labels) + " |"
    rule = "|" + " --- |" * (len(metrics.labels) + 1)
    rows = [
        f"| {label} | " + " | ".join(str(count) for count in row) + " |" for label, row in zip(metrics.labels, matrix)
    ]
    return "\n".join([header, rule, *rows])


# ----------------------------------------------------------------------------------------------- the card


def _read_folder(model_dir: Path):
    from modeling_avemo import AVEmoConfig

    if not (model_dir / "config.json").is_file():
        raise ModelCardError(f"{model_dir}: not a model folder (no config.json)")
    try:
        config = AVEmoConfig.from_pretrained(model_dir)
    except (OSError, ValueError, TypeError) as error:
        raise ModelCardError(f"{model_dir}: config.json is not an avemo config ({error})") from error
    processor = {}
    if (model_dir / "processor_config.json").is_file():
        processor = json.loads((model_dir / "processor_config.json").read_text())
    return config, processor


def _architecture(config) -> list[tuple[str, str]]:
    rows = []
    if config.uses_visual:
        rows.append(("face CNN", f"{config.face_backbone}, {config.face_size}x{config.face_size} crops"))
        rows.append(("frame pooling", config.visual_attention))
    if config.uses_audio:
        rows.append(("audio CNN", f"{config.audio_backbone} over a {config.num_mel_bins}-band log-mel + deltas image"))
        rows.append(("audio pooling", config.audio_attention))
    if config.uses_visual and config.uses_audio:
        rows.append(("fusion", "factorized bilinear pooling" if config.fusion == "fbp" else "concatenation"))
    return rows


def _corpora(config, metrics: Metrics | None) -> set[str]:
    """Corpora named in the training and evaluation records (and the metrics file): ravdess, crema-d, afew."""
    provenance = getattr(config, "provenance", None) or {}
    text = json.dumps([provenance.get("training"), provenance.get("evaluation"), metrics and metrics.corpus]).lower()
    return {
        name
        for name, pattern in (("ravdess", r"ravdess"), ("crema-d", r"crema"), ("afew", r"afew|emotiw"))
        if re.search(pattern, text)
    }


def _citation_texts(config, metrics: Metrics | None) -> list[str]:
    provenance = getattr(config, "provenance", None) or {}
    weights = [
        entry
        for entry in provenance.get("weights") or []
        if not (isinstance(entry, dict) and str(entry.get("source", "")).lower().startswith("random"))
    ]
    rest = {key: value for key, value in provenance.items() if key not in ("weights", "summary")}
    return [json.dumps(weights), json.dumps(rest), (metrics.corpus or "") if metrics else ""]


def _uses_fer2013_faces(config) -> bool:
    provenance = getattr(config, "provenance", None) or {}
    text = json.dumps(
        [e for e in provenance.get("weights") or [] if isinstance(e, dict) and e.get("part") == "face_encoder"]
    )
    return config.uses_visual and bool(re.search(r"fer2013|emotion_model\.hdf5", text, re.IGNORECASE))


def _license(config, corpora: set[str], references: list[Reference]) -> tuple[str, str | None]:
    """The card's `license` field: the most restrictive terms the provenance names (as a hub identifier)."""
    if "ravdess" in corpora:
        return (
            "cc-by-nc-sa-4.0",
            "the model was trained on RAVDESS, whose licence (CC BY-NC-SA 4.0) allows no commercial use and asks that "
            "derived works be shared alike",
        )
    if "afew" in corpora:
        return "other", "the model was trained on AFEW, whose licence agreement allows academic research only"
    weights = (getattr(config, "provenance", None) or {}).get("weights") or []
    licences = {
        str(entry.get("license", "")).strip().lower()
        for entry in weights
        if isinstance(entry, dict) and entry.get("license")
    }
    if licences == {"mit"}:
        return (
            "mit",
            "the starting weights are MIT-licensed; the data they were trained on come with their own terms (below)",
        )
    if not licences:
        return (
            "apache-2.0",
            "avemo's own licence: no third-party weights with other terms are recorded; the training data come with "
            "their own terms (below)",
        )
    return "other", "the starting weights come with several licences (below)"


def _card_data(name: str, license_id: str, measured: Metrics | None):
    """The card's metadata (`huggingface_hub.ModelCardData`): library, task, licence and tags, with the metrics and
    the `model-index` results of `measured` when there is one."""
    from huggingface_hub import ModelCardData

    return ModelCardData(
        library_name="transformers",
        pipeline_tag="video-classification",
        license=license_id,
        tags=[
            "avemo",
            "emotion-recognition",
            "facial-expression-recognition",
            "audio-visual",
            "video-classification",
            "custom_code",
        ],
        metrics=[key for key, _ in METRICS] if measured else None,
        model_name=name,
        eval_results=_eval_results(measured) if measured else None,
    )


def build_model_card(
    model_dir: str | PathLike,
    metrics: str | PathLike | None = None,
    repo_id: str | None = None,
    model_name: str | None = None,
):
    """A `huggingface_hub.ModelCard` for a saved avemo model folder (config.json, processor_config.json).

    `metrics`: an `avemo evaluate` JSON whose results become the card's `model-index`. `repo_id`: the hub id the
    usage examples load from (default: the folder's name, as a local path).
    """
    from huggingface_hub import ModelCard

    from modeling_avemo import face_recipe

    model_dir = Path(model_dir)
    config, processor = _read_folder(model_dir)
    labels = config.labels
    measured = read_metrics(metrics, labels) if metrics is not None else None
    name = model_name or (repo_id.split("/")[-1] if repo_id else model_dir.resolve().name)
    corpora = _corpora(config, measured)
    references = cited(*_citation_texts(config, measured))
    license_id, license_note = _license(config, corpora, references)
    provenance = getattr(config, "provenance", None) or {}
    modalities = _MODALITY_TEXTS[config.modalities]

    card_data = _card_data(name, license_id, measured)
    snippet_id = repo_id or f"./{model_dir.resolve().name}"
    card = ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE_PATH),
        name=name,
        repo_id=snippet_id,
        summary=_sentence(provenance.get("summary")),
        notes=[note for note in config.provenance_notes() if note != provenance.get("summary")],
        warnings=config.provenance_warnings(),
        modalities=modalities,
        labels=labels,
        architecture=_architecture(config),
        trained=bool(config.trained),
        provenance_md=provenance_markdown(config, heading_level=3, summary=False),
        metrics=measured,
        confusion_table=_confusion_table(measured) if measured else "",
        face_recipe=face_recipe(config.face_recipe).describe() if config.uses_visual else None,
        face_recipe_origin=face_recipe(config.face_recipe).origin if config.uses_visual else None,
        num_frames=processor.get("num_frames"),
        uses_visual=config.uses_visual,
        uses_audio=config.uses_audio,
        fer2013_faces=_uses_fer2013_faces(config),
        corpora=sorted(corpora),
        has_pipeline=bool(getattr(config, "custom_pipelines", None)),
        references=references,
        bibtex=[reference.bibtex for reference in references if reference.bibtex],
        paper=PAPER,
        license_id=license_id,
        license_note=license_note,
    )
    return card
