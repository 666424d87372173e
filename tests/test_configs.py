"""The ablation configs of `configs/paper/` (README, "Reproduce the paper"): each loads, builds, and is the best
system with only the choice its name states changed."""

import json

import pytest

from avemo.model_folders.configs import read_config_file
from conftest import REPO_ROOT

CONFIGS = sorted((REPO_ROOT / "configs" / "paper").glob("*.json"))
BEST = "best-ir50-transformer-fbp.json"
# The knobs each file may change, from its name (independent of the files' contents).
CHANGES = {
    "attention-self.json": {"visual_attention": "self", "audio_attention": "self"},
    "attention-relation.json": {"visual_attention": "relation", "audio_attention": "relation"},
    "attention-fcn-audio.json": {"audio_attention": "fcn"},
    "fusion-concat.json": {"fusion": "concat"},
    "face-resnet18.json": {"face_backbone": "resnet18"},
    "face-vggface.json": {"face_backbone": "vggface"},
    "faces-only-ir50.json": {"modalities": "visual"},
    "audio-only-alexnet.json": {"modalities": "audio"},
    "features-spectrogram.json": {"audio_features": "spectrogram", "num_mel_bins": 513},
    BEST: {},
}


def test_every_config_file_is_listed():
    assert sorted(path.name for path in CONFIGS) == sorted(CHANGES)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_ablation_config_is_the_best_system_with_one_choice_changed(path):
    best = {
        "modalities": "audio_visual",
        "face_backbone": "ir50",
        "visual_attention": "transformer",
        "audio_attention": "transformer",
        "fusion": "fbp",
    }
    config = read_config_file(path)
    expected = {**best, **CHANGES[path.name]}
    assert {key: getattr(config, key) for key in expected} == expected
    assert set(json.loads(path.read_text())) <= set(best) | set(CHANGES[path.name])  # nothing else is set


def test_spectrogram_features_reach_the_model(tmp_path):
    """audio_features="spectrogram": the processor computes the plain spectrogram (513 bins of a 1024-point FFT,
    with its deltas) and the model reads it; a log-mel height is refused with the reason."""
    import numpy as np
    import torch

    from avemo.model_folders.configs import default_processor
    from conftest import TINY
    from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification

    config = AVEmoConfig(**TINY, modalities="audio", audio_features="spectrogram", num_mel_bins=513)
    processor = default_processor(config)
    extractor = processor.feature_extractor
    assert extractor.feature_type == "spectrogram" and extractor.n_fft == 1024
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    features = processor.audio_tensors([tone])
    assert features["input_features"].shape[1:3] == (3, 513)
    # A 1 kHz tone peaks in FFT bin 1000 / (16000 / 1024) = 64, where a spectrogram (not a mel scale) puts it.
    assert int(features["input_features"][0, 0, :, 10:-10].mean(-1).argmax()) == 64
    model = AVEmoForVideoClassification(config).eval()
    with torch.no_grad():
        assert model(**features).logits.shape == (1, 7)
    processor.save_pretrained(tmp_path)
    assert (
        json.loads((tmp_path / "processor_config.json").read_text())["feature_extractor"]["feature_type"]
        == "spectrogram"
    )
    with pytest.raises(ValueError, match="num_mel_bins=128 is not valid with audio_features='spectrogram'"):
        AVEmoConfig(audio_features="spectrogram")
