"""What a model is, in plain words, from its config: the notes and warnings every tool shows with predictions.

`config.provenance` records where the weights started from (`weights`), each training run (`training`) and the
held-out evaluations (`evaluation`); `summary` is one sentence for people. Tools never claim more than it says.
"""

UNTRAINED_WARNING = "the model is untrained (made without trained weights): its scores mean nothing yet"

_MODALITY_NOTES = {
    "visual": "faces only: the audio is not used",
    "audio": "speech only: the faces are not used",
}


def model_notes(config) -> list[str]:
    """Plain statements about the model that every result should carry."""
    notes = []
    summary = (config.provenance or {}).get("summary")
    if summary:
        notes.append(summary)
    if config.modalities in _MODALITY_NOTES:
        notes.append(_MODALITY_NOTES[config.modalities])
    return notes


def model_warnings(config) -> list[str]:
    """Reasons to distrust the model's scores."""
    return [] if config.trained else [UNTRAINED_WARNING]
