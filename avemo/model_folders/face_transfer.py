"""Handing a face CNN from one model to another: the image stage's output into a video model (`--face-from`).

The face CNN is what the paper transfers: faces (MS-Celeb-1M), then expression images, then video. Its weights
only mean something with the crops they were trained on, so the face settings (backbone, size, layer sizes and
the input recipe) travel with them, and a target whose settings differ is refused rather than silently given a
CNN that sees other crops.
"""

from pathlib import Path

from modeling_avemo import AVEmoConfig

# The config fields that shape the face CNN and its input; all of them travel with the weights.
FACE_FIELDS = (
    "face_backbone",
    "face_size",
    "face_recipe",
    "face_stage_depths",
    "face_stage_widths",
    "face_embedding_size",
    "face_dropout",
)
_NOT_FIELDS = ("auto_map", "architectures", "transformers_version", "model_type", "dtype", "torch_dtype")


class FaceTransferError(ValueError):
    """A face CNN cannot be handed over; the message names both models' settings."""


def face_settings(config: AVEmoConfig) -> dict:
    """The config's face settings (FACE_FIELDS): what a face CNN's weights only mean something with."""
    return {name: getattr(config, name) for name in FACE_FIELDS}


def config_fields(config: AVEmoConfig) -> dict:
    """The fields to rebuild `config` from (what a saved config.json holds, less the bookkeeping)."""
    fields = config.to_dict()
    for key in _NOT_FIELDS:
        fields.pop(key, None)
    return fields


def with_face_of(config: AVEmoConfig, source: AVEmoConfig) -> AVEmoConfig:
    """A copy of `config` whose face CNN and face input are `source`'s (the rest, labels included, unchanged)."""
    fields = config_fields(config)
    fields.update(face_settings(source))
    return AVEmoConfig(**fields)


def image_stage_config(source: AVEmoConfig, labels) -> AVEmoConfig:
    """A faces-only classifier of single images with `source`'s face CNN: one frame per example, pooled by a plain
    mean (the identity for one frame; the mean of probabilities for the mini-Xception's log-probabilities)."""
    labels = list(labels)
    return AVEmoConfig(
        **face_settings(source),
        modalities="visual",
        visual_attention="log_mean_exp" if source.face_backbone == "mini_xception" else "mean",
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: index for index, label in enumerate(labels)},
        provenance={"weights": [], "training": [], "evaluation": []},
    )


def face_record(source_model, source_name: str) -> dict:
    """The `provenance["weights"]` entry of a face CNN taken from another model: where it came from, what it was
    trained on (that model's runs), and where that model's face CNN started."""
    config = source_model.config
    provenance = config.provenance or {}
    runs = [
        f"{run.get('corpus', '?')} ({run.get('tool', '?')}, {run.get('steps', '?')} steps)"
        for run in provenance.get("training", [])
    ]
    earlier = [entry for entry in provenance.get("weights", []) if entry.get("part") == "face_encoder"]
    return {
        "part": "face_encoder",
        "source": source_name,
        "trained_on": "; then ".join([entry.get("trained_on", entry.get("source", "?")) for entry in earlier] + runs)
        or "untrained weights",
        "from_model": {
            "labels": config.labels,
            "trained": bool(config.trained),
        },
    }


def load_face_from(model, source) -> dict:
    """Copy the face CNN of `source` (a model folder, a shipped model's name, or a loaded model) into `model`,
    whose face settings must be the same (build its config with `with_face_of`). Returns the provenance record,
    also appended to `model.config.provenance["weights"]` (replacing any earlier face_encoder entry)."""
    from avemo.model_folders.loading import load_model

    if isinstance(source, (str, Path)):
        name = str(source)
        source = load_model(name)
    else:
        name = getattr(source, "name_or_path", "") or "a model in memory"
    if not source.config.uses_visual:
        raise FaceTransferError(f"{name}: an audio-only model has no face CNN to hand over")
    if not model.config.uses_visual:
        raise FaceTransferError(f"the target model is audio-only: it has no face CNN to receive the one of {name}")
    ours, theirs = face_settings(model.config), face_settings(source.config)
    differing = [key for key in FACE_FIELDS if ours[key] != theirs[key]]
    if differing:
        details = "; ".join(f"{key}: {theirs[key]!r} in {name}, {ours[key]!r} here" for key in differing)
        raise FaceTransferError(
            f"the face CNN of {name} does not fit this model ({details}); build its config with its face settings"
        )
    model.avemo.face_encoder.load_state_dict(source.avemo.face_encoder.state_dict())
    record = face_record(source, Path(name).name if Path(name).exists() else name)
    provenance = (
        model.config.provenance
        if model.config.provenance is not None
        else {"weights": [], "training": [], "evaluation": []}
    )
    provenance.setdefault("weights", [])
    provenance["weights"] = [entry for entry in provenance["weights"] if entry.get("part") != "face_encoder"] + [record]
    model.config.provenance = provenance
    return record
