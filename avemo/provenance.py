"""What a model is, in plain words: the notes and warnings every avemo tool shows with predictions.

The words come from the model config itself (`AVEmoConfig.provenance_warnings` / `provenance_notes`), so that
the pipeline and remote code, where avemo is not installed, say exactly the same.
"""

UNTRAINED_PREFIX = "the model is untrained"


def model_notes(config) -> list[str]:
    """Plain statements about the model that every result should carry."""
    return config.provenance_notes()


def model_warnings(config) -> list[str]:
    """Reasons to distrust the model's scores."""
    return config.provenance_warnings()
