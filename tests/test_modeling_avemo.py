"""Model tests over every variant (attention x fusion x modality x face size x face backbone), with tiny configs."""

import json
from dataclasses import dataclass

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification

from modeling_avemo import AFEW_LABELS, AVEmoConfig, AVEmoForVideoClassification, AVEmoModel
from modeling_avemo.registry_avemo import FACE_ENCODERS, FUSIONS, POOLINGS

from conftest import run_without_project

VISUAL_POOLINGS = POOLINGS.names(lambda spec: "visual" in spec.inputs)
AUDIO_POOLINGS = POOLINGS.names(lambda spec: "audio" in spec.inputs)
TINY_FACE_WIDTHS = [4, 4, 8, 8]


def _tiny_face(backbone: str) -> dict:
    """Smaller face CNNs than IR50's test size; a backbone without projection embeds to its last stage width."""
    if backbone == "ir50":
        return {}
    tiny = dict(face_backbone=backbone, face_stage_depths=[1, 1, 1, 1])
    if FACE_ENCODERS.spec(backbone).embedding_size is None:
        tiny["face_embedding_size"] = TINY_FACE_WIDTHS[-1]
    return tiny


def _variants():
    """Derived from the registries, so that a newly registered pooling, fusion or face backbone is tested here
    without editing this file."""
    variants = []
    for face_size in FACE_ENCODERS.spec("ir50").face_sizes:
        for attention in AUDIO_POOLINGS:
            for fusion in FUSIONS:
                # A pooling that cannot pool faces (fcn) is paired with transformer-attention on faces.
                visual = attention if attention in VISUAL_POOLINGS else "transformer"
                variants.append(
                    dict(
                        modalities="audio_visual",
                        face_size=face_size,
                        visual_attention=visual,
                        audio_attention=attention,
                        fusion=fusion,
                    )
                )
        for attention in VISUAL_POOLINGS:
            variants.append(dict(modalities="visual", face_size=face_size, visual_attention=attention))
    for attention in AUDIO_POOLINGS:
        variants.append(dict(modalities="audio", audio_attention=attention))
    # Every other face backbone in an audio-video model, at each crop side it takes.
    for backbone in FACE_ENCODERS:
        spec = FACE_ENCODERS.spec(backbone)
        if backbone != "ir50":
            for face_size in spec.face_sizes or (spec.default_face_size,):
                variants.append(dict(modalities="audio_visual", face_size=face_size, **_tiny_face(backbone)))
    # The shipped FER2013 model's combination, and its log-probabilities pooled in an audio-video model.
    variants.append(dict(modalities="visual", face_backbone="mini_xception", visual_attention="log_mean_exp"))
    variants.append(
        dict(modalities="audio_visual", face_backbone="mini_xception", visual_attention="log_mean_exp", fusion="concat")
    )
    return variants


VARIANTS = _variants()


def variant_id(variant):
    return "-".join(
        str(value) for key, value in variant.items() if key not in ("face_stage_depths", "face_embedding_size")
    )


assert len({variant_id(variant) for variant in VARIANTS}) == len(VARIANTS), "two variants share an id"


@dataclass
class AVEmoModelTester:
    """Tiny configs and matching random inputs (transformers' ModelTester pattern)."""

    batch_size: int = 3
    frames: int = 4
    audio_frames: int = 160
    num_mel_bins: int = 64
    num_labels: int = 3

    def get_config(self, **overrides) -> AVEmoConfig:
        kwargs = dict(
            face_stage_depths=[1, 1, 2, 1],
            face_stage_widths=TINY_FACE_WIDTHS,
            face_embedding_size=16,
            audio_channels=[4, 8, 8, 8, 8],
            num_mel_bins=self.num_mel_bins,
            audio_attention_hidden_size=8,
            transformer_attention_size=8,
            transformer_attention_heads=2,
            fbp_k=2,
            fbp_o=6,
            id2label={0: "neg", 1: "neu", 2: "pos"},
        )
        kwargs.update(overrides)
        return AVEmoConfig(**kwargs)

    def prepare_inputs(self, config: AVEmoConfig, seed: int = 0) -> dict:
        """Clip 0 is complete; clip 1 has padded frames and padded audio; clip 2 has no face at all but audio.
        For visual-only models clip 2 keeps one face frame (a clip needs something to predict from)."""
        generator = torch.Generator().manual_seed(seed)
        size = config.face_size
        inputs = {}
        if config.uses_visual:
            frame_mask = torch.ones(self.batch_size, self.frames, dtype=torch.long)
            frame_mask[1, 2:] = 0
            frame_mask[2, 0 if config.uses_audio else 1 :] = 0
            inputs["pixel_values"] = torch.randn(
                self.batch_size, self.frames, config.face_channels, size, size, generator=generator
            )
            inputs["frame_mask"] = frame_mask
        if config.uses_audio:
            audio_mask = torch.ones(self.batch_size, self.audio_frames, dtype=torch.long)
            audio_mask[1, 120:] = 0
            inputs["input_features"] = torch.randn(
                self.batch_size, 3, config.num_mel_bins, self.audio_frames, generator=generator
            )
            inputs["audio_mask"] = audio_mask
        inputs["labels"] = torch.tensor([0, 1, 2])
        return inputs


TESTER = AVEmoModelTester()


def _model(variant, seed=0):
    torch.manual_seed(seed)
    return AVEmoForVideoClassification(TESTER.get_config(**variant))


# ---------------------------------------------------------------------------------------------- per variant


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_output_shapes(variant):
    model = _model(variant).eval()
    config = model.config
    inputs = TESTER.prepare_inputs(config)
    with torch.no_grad():
        output = model(**inputs)
        base = model.avemo(**{k: v for k, v in inputs.items() if k != "labels"})
    assert output.logits.shape == (TESTER.batch_size, config.num_labels)
    assert output.loss.shape == () and torch.isfinite(output.loss)
    assert base.fused_embeds.shape == (TESTER.batch_size, config.fused_size)
    assert torch.isfinite(output.logits).all()
    if config.uses_visual:
        assert base.visual_embeds.shape == (TESTER.batch_size, config.visual_output_size)
        weights = output.visual_attentions
        assert weights.shape == (TESTER.batch_size, TESTER.frames)
        # Padded frames get no weight; the weights of a clip sum to one over its faces, zero without any.
        assert torch.all(weights[inputs["frame_mask"] == 0] == 0)
        expected_sums = inputs["frame_mask"].any(-1).float()
        torch.testing.assert_close(weights.sum(-1), expected_sums)
    else:
        assert output.visual_attentions is None and base.visual_embeds is None
    if config.uses_audio:
        assert base.audio_embeds.shape == (TESTER.batch_size, config.audio_output_size)
        weights = output.audio_attentions
        assert weights.dim() == 3 and weights.shape[0] == TESTER.batch_size
        torch.testing.assert_close(weights.sum((-1, -2)), torch.ones(TESTER.batch_size))
        # Clip 1's audio is shorter: its last map columns lie in padding and get no weight.
        assert torch.all(weights[1, :, -1] == 0) and torch.all(weights[0, :, -1] > 0)
    else:
        assert output.audio_attentions is None and base.audio_embeds is None


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_backward_reaches_every_parameter(variant):
    model = _model(variant).train()
    inputs = TESTER.prepare_inputs(model.config)
    if model.config.modalities == "audio_visual":
        # Also a clip without audio, so that the missing-audio placeholder is used.
        inputs["audio_mask"][0] = 0
    loss = model(**inputs).loss
    loss.backward()
    no_grad = [
        name for name, parameter in model.named_parameters() if parameter.requires_grad and parameter.grad is None
    ]
    assert not no_grad, f"parameters without gradient: {no_grad}"
    not_finite = [name for name, parameter in model.named_parameters() if not torch.isfinite(parameter.grad).all()]
    assert not not_finite, f"non-finite gradients: {not_finite}"


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_padding_changes_nothing(variant):
    """Extra padded frames and audio frames (random content, mask 0) leave every output unchanged."""
    model = _model(variant).eval()
    config = model.config
    inputs = TESTER.prepare_inputs(config)
    padded = dict(inputs)
    if config.uses_visual:
        extra = torch.randn(TESTER.batch_size, 3, config.face_channels, config.face_size, config.face_size) * 5
        padded["pixel_values"] = torch.cat([inputs["pixel_values"], extra], dim=1)
        padded["frame_mask"] = torch.cat([inputs["frame_mask"], torch.zeros(TESTER.batch_size, 3, dtype=torch.long)], 1)
        # Content under the mask is never read either.
        padded["pixel_values"][1, 3] = 100.0
    if config.uses_audio:
        extra = torch.randn(TESTER.batch_size, 3, config.num_mel_bins, 50) * 5
        padded["input_features"] = torch.cat([inputs["input_features"], extra], dim=-1)
        padded["audio_mask"] = torch.cat(
            [inputs["audio_mask"], torch.zeros(TESTER.batch_size, 50, dtype=torch.long)], 1
        )
        padded["input_features"][1, :, :, 130] = 100.0
    with torch.no_grad():
        reference = model(**inputs)
        result = model(**padded)
    torch.testing.assert_close(result.logits, reference.logits, atol=1e-5, rtol=1e-5)
    if config.uses_visual:
        torch.testing.assert_close(
            result.visual_attentions[:, : TESTER.frames], reference.visual_attentions, atol=1e-6, rtol=1e-5
        )
        assert torch.all(result.visual_attentions[:, TESTER.frames :] == 0)
    if config.uses_audio:
        width = reference.audio_attentions.shape[-1]
        torch.testing.assert_close(
            result.audio_attentions[..., :width], reference.audio_attentions, atol=1e-6, rtol=1e-5
        )
        assert torch.all(result.audio_attentions[..., width:] == 0)


MIXED_PRECISION_VARIANTS = [
    dict(modalities="audio_visual", face_backbone=backbone, visual_attention="transformer") | _tiny_face(backbone)
    for backbone in FACE_ENCODERS
]


@pytest.mark.parametrize("variant", MIXED_PRECISION_VARIANTS, ids=variant_id)
def test_bf16_autocast_training_step(variant):
    """`avemo train --mixed-precision bf16` runs the model under autocast: the forward and backward must work
    with the CNNs' outputs in bf16 (CPU autocast runs the convolutions in bf16 too)."""
    model = _model(variant).train()
    inputs = TESTER.prepare_inputs(model.config)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(**inputs)
    assert output.logits.dtype == torch.bfloat16 and torch.isfinite(output.loss)
    output.loss.backward()
    face_grad = next(model.avemo.face_encoder.parameters()).grad
    assert face_grad is not None and torch.isfinite(face_grad).all()


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_eval_is_deterministic(variant):
    model = _model(variant).eval()
    inputs = TESTER.prepare_inputs(model.config)
    with torch.no_grad():
        first, second = model(**inputs).logits, model(**inputs).logits
    assert torch.equal(first, second)
    model.train()
    with torch.no_grad():
        # Dropout is active in training mode: the same input gives other logits (the check above is not vacuous).
        assert not torch.equal(model(**inputs).logits, first)


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_save_load_round_trip(variant, tmp_path):
    model = _model(variant).eval()
    inputs = TESTER.prepare_inputs(model.config)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "avemo"
    assert set(saved["auto_map"]) == {"AutoConfig", "AutoModel", "AutoModelForVideoClassification"}
    assert (tmp_path / "model.safetensors").is_file()
    code_files = (
        "configuration_avemo.py",
        "modeling_avemo.py",
        "attention_avemo.py",
        "backbones_avemo.py",
        "fusion_avemo.py",
        "face_recipes_avemo.py",
        "registry_avemo.py",
    )
    for code_file in code_files:
        assert (tmp_path / code_file).is_file(), code_file

    loaded = AutoModelForVideoClassification.from_pretrained(tmp_path).eval()
    assert type(loaded) is AVEmoForVideoClassification
    original_state, loaded_state = model.state_dict(), loaded.state_dict()
    assert original_state.keys() == loaded_state.keys()
    assert all(torch.equal(original_state[key], loaded_state[key]) for key in original_state)
    with torch.no_grad():
        assert torch.equal(loaded(**inputs).logits, model(**inputs).logits)

    # AutoModel on a classifier folder gives the base model with the trained weights (base_model_prefix).
    base = AutoModel.from_pretrained(tmp_path).eval()
    assert type(base) is AVEmoModel
    features = {key: value for key, value in inputs.items() if key != "labels"}
    with torch.no_grad():
        assert torch.equal(base(**features).fused_embeds, model.avemo(**features).fused_embeds)


@pytest.fixture(scope="module")
def remote_code_results(tmp_path_factory):
    """Every variant saved, then loaded by one fresh interpreter that cannot import avemo."""
    root = tmp_path_factory.mktemp("remote")
    expected = {}
    for index, variant in enumerate(VARIANTS):
        model = _model(variant, seed=index).eval()
        inputs = TESTER.prepare_inputs(model.config, seed=index)
        folder = root / f"variant_{index}"
        model.save_pretrained(folder)
        save_file({key: value for key, value in inputs.items() if key != "labels"}, str(folder / "inputs.safetensors"))
        with torch.no_grad():
            expected[variant_id(variant)] = (
                folder,
                model(**inputs).logits,
                model.avemo(**{k: v for k, v in inputs.items() if k != "labels"}).fused_embeds,
            )
    code = (
        "import sys, torch\n"
        "from pathlib import Path\n"
        "from safetensors.torch import load_file, save_file\n"
        "from transformers import AutoModel, AutoModelForVideoClassification\n"
        "for folder in sys.argv[1:]:\n"
        "    folder = Path(folder)\n"
        "    inputs = load_file(str(folder / 'inputs.safetensors'))\n"
        "    clf = AutoModelForVideoClassification.from_pretrained(folder, trust_remote_code=True).eval()\n"
        "    base = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()\n"
        "    assert 'transformers_modules' in type(clf).__module__, type(clf).__module__\n"
        "    with torch.no_grad():\n"
        "        out = {'logits': clf(**inputs).logits, 'fused': base(**inputs).fused_embeds}\n"
        "    save_file(out, str(folder / 'remote_outputs.safetensors'))\n"
        "    print(type(clf).__name__, type(base).__name__)\n"
    )
    code = code.replace("sys.argv[1:]", repr([str(folder) for folder, _, _ in expected.values()]))
    result = run_without_project(code, cwd=root)
    assert result.returncode == 0, result.stderr[-4000:]
    return expected


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_remote_code_load_without_project(variant, remote_code_results):
    folder, logits, fused = remote_code_results[variant_id(variant)]
    remote = load_file(str(folder / "remote_outputs.safetensors"))
    torch.testing.assert_close(remote["logits"], logits, atol=1e-6, rtol=0)
    torch.testing.assert_close(remote["fused"], fused, atol=1e-6, rtol=0)


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_trainer_two_steps(variant, tmp_path):
    from transformers import Trainer, TrainingArguments

    model = _model(variant)
    # A list of example dicts is a torch map-style dataset (datasets' Arrow round trip of the pixels cost more than
    # the two steps; tests/test_hf_paths.py trains from a datasets.Dataset).
    dataset = []
    for seed in range(2):
        inputs = TESTER.prepare_inputs(model.config, seed=seed)
        for index in range(TESTER.batch_size):
            dataset.append({key: value[index] for key, value in inputs.items()})
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=3,
        learning_rate=1e-2,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        logging_steps=1,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=dataset)
    result = trainer.train()
    assert result.global_step == 2
    assert torch.isfinite(torch.tensor(result.training_loss))
    changed = [
        name for name, parameter in model.named_parameters() if not torch.equal(before[name], parameter.detach())
    ]
    assert "classifier.weight" in changed and len(changed) > len(before) // 2


# ---------------------------------------------------------------------------------------------- behaviour


def test_missing_modality_prediction_rests_on_the_other():
    """A clip without faces is predicted from its audio alone (and vice versa): the masked modality's content has
    no influence, the present one does, and nothing is NaN."""
    model = _model(dict(modalities="audio_visual", fusion="fbp")).eval()
    inputs = TESTER.prepare_inputs(model.config)
    inputs.pop("labels")
    inputs["audio_mask"][0] = 0  # clip 0: faces only; clip 2: audio only
    with torch.no_grad():
        reference = model(**inputs).logits
        changed_masked = dict(
            inputs, pixel_values=inputs["pixel_values"].clone(), input_features=inputs["input_features"].clone()
        )
        changed_masked["pixel_values"][2] += 3.0
        changed_masked["input_features"][0] += 3.0
        assert torch.equal(model(**changed_masked).logits, reference)
        changed_present = dict(
            inputs, pixel_values=inputs["pixel_values"].clone(), input_features=inputs["input_features"].clone()
        )
        changed_present["pixel_values"][0] += 3.0
        changed_present["input_features"][2] += 3.0
        moved = model(**changed_present).logits
    assert not torch.allclose(moved[0], reference[0]) and not torch.allclose(moved[2], reference[2])
    assert torch.isfinite(reference).all()


def test_clip_with_neither_modality_gives_finite_prior():
    model = _model(dict(modalities="audio_visual")).eval()
    inputs = TESTER.prepare_inputs(model.config)
    inputs["frame_mask"][:] = 0
    inputs["audio_mask"][:] = 0
    with torch.no_grad():
        logits = model(**inputs).logits
    assert torch.isfinite(logits).all()
    # Every clip gets the same (learned prior) prediction.
    torch.testing.assert_close(logits, logits[:1].expand_as(logits))


def test_modality_may_be_left_out_entirely():
    model = _model(dict(modalities="audio_visual")).eval()
    inputs = TESTER.prepare_inputs(model.config)
    with torch.no_grad():
        audio_only = model(input_features=inputs["input_features"], audio_mask=inputs["audio_mask"]).logits
        masked = model(**dict(inputs, frame_mask=torch.zeros_like(inputs["frame_mask"]), labels=None)).logits
    torch.testing.assert_close(audio_only, masked)


def test_short_audio_is_padded_to_the_receptive_field():
    model = _model(dict(modalities="audio")).eval()
    features = torch.randn(2, 3, TESTER.num_mel_bins, 40)
    with torch.no_grad():
        output = model(input_features=features)
    assert torch.isfinite(output.logits).all()
    assert output.audio_attentions.sum().item() == pytest.approx(2.0)


@pytest.mark.parametrize(
    "bad_inputs, message",
    [
        (dict(pixel_values=torch.randn(2, 4, 3, 64, 64)), "face_size=112"),
        (dict(pixel_values=torch.randn(2, 4, 3, 112, 112), frame_mask=torch.ones(3, 4)), "frame_mask must have shape"),
        (dict(input_features=torch.randn(2, 3, 40, 80)), "num_mel_bins=64"),
        (dict(input_features=torch.randn(2, 3, 64, 80), audio_mask=torch.ones(2, 70)), "audio_mask must have shape"),
        (
            dict(pixel_values=torch.randn(2, 4, 3, 112, 112), input_features=torch.randn(3, 3, 64, 80)),
            "batch sizes differ",
        ),
        (
            dict(input_features=torch.randn(1, 3, 64, 80), audio_mask=torch.tensor([[1] * 40 + [0] * 20 + [1] * 20])),
            "prefix",
        ),
        ({}, r"needs pixel_values \(or frame_embeds\) and/or input_features"),
    ],
)
def test_bad_inputs_raise_clear_errors(bad_inputs, message):
    model = _model(dict(modalities="audio_visual")).eval()
    with pytest.raises(ValueError, match=message):
        model(**bad_inputs)


def test_mismatched_labels_raise():
    model = _model(dict(modalities="audio")).eval()
    with pytest.raises(ValueError, match="labels must have shape"):
        model(input_features=torch.randn(2, 3, 64, 80), labels=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"labels must have shape \(2, 3\) for multi_label_classification"):
        model(input_features=torch.randn(2, 3, 64, 80), labels=torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize("problem", ["single_label_classification", "multi_label_classification", "regression"])
def test_problem_types_use_transformers_losses(problem):
    """config.problem_type as transformers' classification heads read it; the loss written out from the logits."""
    num_labels = 1 if problem == "regression" else 3
    torch.manual_seed(0)
    model = AVEmoForVideoClassification(
        TESTER.get_config(modalities="audio", num_labels=num_labels, id2label=None, problem_type=problem)
    ).eval()
    features = torch.randn(2, 3, 64, 80)
    labels = {
        "single_label_classification": torch.tensor([2, 0]),
        "multi_label_classification": torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]),
        "regression": torch.tensor([0.5, -1.5]),
    }[problem]
    with torch.no_grad():
        output = model(input_features=features, labels=labels)
    logits = output.logits.double()
    if problem == "single_label_classification":
        expected = -(logits.log_softmax(-1)[torch.arange(2), labels]).mean()
    elif problem == "multi_label_classification":
        p = torch.sigmoid(logits)
        expected = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    else:
        expected = ((logits[:, 0] - labels) ** 2).mean()
    torch.testing.assert_close(output.loss.double(), expected, atol=1e-6, rtol=1e-5)
    if problem != "single_label_classification":  # unset, the problem is inferred from the labels as transformers does
        model.config.problem_type = None
        with torch.no_grad():
            torch.testing.assert_close(model(input_features=features, labels=labels).loss, output.loss)


# ---------------------------------------------------------------------------------------------- config


def test_default_config_is_the_paper_system():
    config = AVEmoConfig()
    assert config.model_type == "avemo"
    assert (config.face_backbone, config.face_size, config.audio_backbone, config.fusion) == (
        "ir50",
        112,
        "alexnet",
        "fbp",
    )
    assert list(config.id2label.values()) == list(AFEW_LABELS) and config.num_labels == 7
    assert config.label2id["Surprise"] == 6
    assert config.face_stage_depths == [3, 4, 14, 3] and config.audio_channels == [64, 192, 384, 256, 256]
    assert (config.fbp_k, config.fbp_o, config.fbp_dropout, config.audio_attention_lambda) == (5, 1000, 0.1, 0.3)
    assert config.trained is False


def test_config_round_trip_and_auto_config(tmp_path):
    config = TESTER.get_config(visual_attention="relation", fusion="concat")
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, AVEmoConfig)
    ignore = {"_name_or_path"}
    assert {k: v for k, v in loaded.to_dict().items() if k not in ignore} == {
        k: v for k, v in config.to_dict().items() if k not in ignore
    }
    assert loaded.id2label == {0: "neg", 1: "neu", 2: "pos"}


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("modalities", "text", "'audio_visual', 'visual', 'audio'"),
        ("face_backbone", "vgg", "'ir50', 'resnet18'"),
        ("face_size", 128, "112, 224"),
        ("audio_backbone", "vgg", "'alexnet'"),
        ("visual_attention", "fcn", "'self', 'relation', 'transformer', 'mean'"),
        ("audio_attention", "lstm", "'fcn', 'self'"),
        ("fusion", "sum", "'fbp', 'concat'"),
        ("fbp_k", 0, "integer >= 1"),
        ("fbp_dropout", 1.5, r"\[0, 1\)"),
        ("audio_attention_lambda", -1.0, "> 0"),
        ("face_stage_depths", [3, 4], "list of 4 integers"),
        ("audio_channels", [64, 192], "list of 5 integers"),
        ("num_mel_bins", 40, ">= 63"),
        ("transformer_attention_heads", 3, "divisor"),
    ],
)
def test_invalid_config_values_name_field_and_allowed_values(field, value, allowed):
    with pytest.raises(ValueError, match=rf"AVEmoConfig\.{field}=.*allowed values: .*{allowed}"):
        AVEmoConfig(**{field: value})


def test_custom_labels_set_num_labels():
    config = AVEmoConfig(id2label={0: "a", 1: "b"})
    assert config.num_labels == 2 and config.label2id == {"a": 0, "b": 1}
    config = AVEmoConfig(num_labels=8)
    assert config.num_labels == 8


def test_project_is_really_hidden_in_the_remote_code_subprocess(tmp_path):
    result = run_without_project("import modeling_avemo", cwd=tmp_path)
    assert result.returncode != 0 and "hidden for this test" in result.stderr


# ---------------------------------------------------------------------------------------------- registries


def test_registries_hold_the_methods_parts():
    """The paper's and FAN's parts, named independently of the registries."""
    assert {"self", "relation", "transformer", "fcn", "mean", "log_mean_exp"} <= set(POOLINGS)
    assert {"fbp", "concat"} <= set(FUSIONS)
    assert {"ir50", "resnet18", "mini_xception", "vggface"} <= set(FACE_ENCODERS)
    assert "fcn" not in VISUAL_POOLINGS and "log_mean_exp" not in AUDIO_POOLINGS


def test_variants_cover_every_registered_name():
    def used(field, default, modalities):
        return {variant.get(field, default) for variant in VARIANTS if variant["modalities"] in modalities}

    assert used("visual_attention", "transformer", ("audio_visual", "visual")) == set(VISUAL_POOLINGS)
    assert used("audio_attention", "transformer", ("audio_visual", "audio")) == set(AUDIO_POOLINGS)
    assert used("fusion", "fbp", ("audio_visual",)) == set(FUSIONS)
    assert used("face_backbone", "ir50", ("audio_visual", "visual")) == set(FACE_ENCODERS)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("fusion", "no_such_fusion", "unknown fusion 'no_such_fusion'; registered: 'fbp', 'concat'"),
        ("visual_attention", "no_such_pooling", "unknown pooling 'no_such_pooling'"),
        ("audio_attention", "no_such_pooling", "unknown pooling 'no_such_pooling'"),
        ("face_backbone", "no_such_cnn", "unknown face backbone 'no_such_cnn'"),
        ("audio_backbone", "no_such_cnn", "unknown audio backbone 'no_such_cnn'"),
    ],
)
def test_model_refuses_an_unknown_name_that_got_past_the_config(field, value, message):
    """A config edited after validation (or an old folder's code) must not fall back to a default part: neither the
    model nor the builder of that part."""
    from modeling_avemo.attention_avemo import build_pooling
    from modeling_avemo.backbones_avemo import build_audio_encoder, build_face_encoder
    from modeling_avemo.fusion_avemo import build_fusion

    config = TESTER.get_config(modalities="audio_visual")
    setattr(config, field, value)
    with pytest.raises(ValueError, match=message):
        AVEmoForVideoClassification(config)
    builders = {
        "fusion": lambda: build_fusion(config),
        "visual_attention": lambda: build_pooling(config.visual_attention, 16, config),
        "audio_attention": lambda: build_pooling(config.audio_attention, 8, config),
        "face_backbone": lambda: build_face_encoder(config),
        "audio_backbone": lambda: build_audio_encoder(config),
    }
    with pytest.raises(ValueError, match=message):
        builders[field]()


def test_a_registry_refuses_undeclared_and_unbuilt_names():
    from modeling_avemo.registry_avemo import Registry

    registry = Registry("widget", {"a": None, "b": None})

    @registry.register("a")
    class A:
        pass

    assert registry.get("a") is A and registry.unregistered() == ["b"]
    with pytest.raises(KeyError, match="'c' is not declared"):
        registry.register("c")
    with pytest.raises(LookupError, match="'b' is declared but no class is registered"):
        registry.get("b")
    with pytest.raises(ValueError, match="unknown widget 'c'; registered: 'a', 'b'"):
        registry.get("c")

    with pytest.raises(ValueError, match="already registered to"):

        @registry.register("a")
        class Other:
            pass


def test_a_declared_name_without_its_class_stops_the_model_import(tmp_path):
    """The config's names and the model's classes cannot drift: a copy of the package with one more declared
    pooling and no class for it fails to import, naming it."""
    import shutil
    import subprocess
    import sys

    from conftest import REPO_ROOT

    copy = tmp_path / "drifted_avemo"
    shutil.copytree(REPO_ROOT / "modeling_avemo", copy, ignore=shutil.ignore_patterns("__pycache__"))
    registry = copy / "registry_avemo.py"
    source = registry.read_text()
    anchor = '        "mean": PoolingSpec(BOTH),\n'
    assert anchor in source
    registry.write_text(source.replace(anchor, anchor + '        "no_such_pooling": PoolingSpec(BOTH),\n'))
    command = [sys.executable, "-c", "import drifted_avemo"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "no class is registered for the pooling name(s) no_such_pooling" in result.stderr, result.stderr[-2000:]
