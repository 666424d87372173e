"""Activation checkpointing gives the gradients and BatchNorm statistics of a plain run with less kept for the
backward pass; `torch.export` (static and dynamic) and `torch.compile(fullgraph=True)` capture the whole classifier
and give eager's numbers."""

import copy

import pytest
import torch

from modeling_avemo.export_avemo import MIN_DYNAMIC_AUDIO_FRAMES, export_model, pad_audio
from test_modeling_avemo import TESTER, VARIANTS, _model, variant_id


def _features(inputs: dict) -> dict:
    return {key: value for key, value in inputs.items() if key != "labels"}


def _train_step(model, inputs, seed=0) -> int:
    """Forward and backward of one batch (dropout drawn from `seed`); returns the bytes the autograd graph kept
    for the backward pass outside checkpointed blocks (what checkpointing saves memory on)."""
    kept = 0

    def pack(tensor):
        nonlocal kept
        kept += tensor.numel() * tensor.element_size()
        return tensor

    torch.manual_seed(seed)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = model(**inputs).loss
    loss.backward()
    return kept


@pytest.mark.parametrize("reentrant", [False, True], ids=["non-reentrant", "reentrant"])
@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_gradient_checkpointing_gives_the_same_gradients(variant, reentrant):
    model = _model(variant).train()
    plain = copy.deepcopy(model)
    inputs = TESTER.prepare_inputs(model.config)
    kept_plain = _train_step(plain, inputs)
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": reentrant})
    assert model.is_activation_checkpointing
    kept_checkpointed = _train_step(model, inputs)

    for (name, parameter), reference in zip(model.named_parameters(), plain.parameters()):
        assert (parameter.grad is None) == (reference.grad is None), name
        if reference.grad is not None:
            torch.testing.assert_close(parameter.grad, reference.grad, atol=1e-6, rtol=1e-5, msg=name)
    # BatchNorm running statistics moved once per step, as without checkpointing (the recomputation moves nothing).
    for (name, buffer), reference in zip(model.named_buffers(), plain.buffers()):
        torch.testing.assert_close(buffer, reference, atol=0, rtol=0, msg=name)
    assert kept_checkpointed < kept_plain

    model.activation_checkpointing_disable()
    assert _train_step(model, inputs) == kept_plain


def test_every_cnn_is_checkpointed_block_by_block():
    """Each face CNN's repeated blocks and the audio CNN's stages are the units recomputed in the backward pass."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    blocks = {
        "ir50": lambda config: sum(config.face_stage_depths),  # residual units
        "resnet18": lambda config: sum(config.face_stage_depths),  # basic blocks
        "vggface": lambda config: 5,  # conv stages
        "mini_xception": lambda config: len(config.face_stage_widths),  # residual modules
    }
    for backbone, count in blocks.items():
        variant = next(variant for variant in VARIANTS if variant.get("face_backbone", "ir50") == backbone)
        model = _model(variant)
        face_blocks = [m for m in model.avemo.face_encoder.modules() if isinstance(m, GradientCheckpointingLayer)]
        assert len(face_blocks) == count(model.config), backbone
        audio_stages = [m for m in model.avemo.audio_encoder.modules() if isinstance(m, GradientCheckpointingLayer)]
        assert len(audio_stages) == 5  # one per AlexNet convolution


# ------------------------------------------------------------------------------------------------ export

# Every pooling, fusion, modality and face backbone at least once (exporting every variant would take minutes).
EXPORT_VARIANTS = [
    dict(modalities="audio_visual", visual_attention="transformer", audio_attention="fcn", fusion="fbp"),
    dict(modalities="audio_visual", visual_attention="relation", audio_attention="relation", fusion="concat"),
    dict(modalities="visual", visual_attention="self"),
    dict(modalities="audio", audio_attention="mean"),
    dict(modalities="audio_visual", face_backbone="resnet18", face_stage_depths=[1, 1, 1, 1], face_embedding_size=8),
    dict(modalities="audio_visual", face_backbone="vggface", face_stage_depths=[1, 1, 1, 1]),
    dict(modalities="visual", face_backbone="mini_xception", visual_attention="log_mean_exp"),
]


def _other_shapes(config) -> list[dict]:
    """Inputs of other sizes than TESTER's: one clip of one face and the shortest audio a dynamic program takes, and
    a larger batch with more frames, longer audio, a faceless clip and padding."""
    shapes = []
    for batch, frames, audio in ((1, 1, MIN_DYNAMIC_AUDIO_FRAMES), (5, 7, 300)):
        generator = torch.Generator().manual_seed(batch)
        inputs = {}
        if config.uses_visual:
            size = config.face_size
            inputs["pixel_values"] = torch.randn(batch, frames, config.face_channels, size, size, generator=generator)
            inputs["frame_mask"] = torch.ones(batch, frames, dtype=torch.long)
            if batch > 1:
                inputs["frame_mask"][1, 3:] = 0
                inputs["frame_mask"][2, 0 if config.uses_audio else 1 :] = 0
        if config.uses_audio:
            inputs["input_features"] = torch.randn(batch, 3, config.num_mel_bins, audio, generator=generator)
            inputs["audio_mask"] = torch.ones(batch, audio, dtype=torch.long)
            if batch > 1:
                inputs["audio_mask"][3, 100:] = 0
        shapes.append(inputs)
    return shapes


@pytest.mark.parametrize("variant", EXPORT_VARIANTS, ids=variant_id)
def test_torch_export_static_and_dynamic(variant):
    model = _model(variant).eval()
    inputs = _features(TESTER.prepare_inputs(model.config))
    with torch.no_grad():
        eager = model(**inputs)
        static = export_model(model, inputs, dynamic=False).module()
        torch.testing.assert_close(static(**inputs).logits, eager.logits, atol=1e-5, rtol=1e-5)
        dynamic = export_model(model, inputs).module()
        torch.testing.assert_close(dynamic(**pad_audio(inputs)).logits, eager.logits, atol=1e-5, rtol=1e-5)
        for other in _other_shapes(model.config):
            expected = model(**other)
            result = dynamic(**other)
            torch.testing.assert_close(result.logits, expected.logits, atol=1e-5, rtol=1e-5)
            if model.config.uses_visual:  # the masks, not the data, decide which frames count
                torch.testing.assert_close(result.visual_attentions, expected.visual_attentions, atol=1e-6, rtol=1e-5)


def test_pad_audio_changes_nothing_but_the_map_width():
    model = _model(EXPORT_VARIANTS[0]).eval()
    inputs = _features(TESTER.prepare_inputs(model.config))
    inputs["input_features"] = inputs["input_features"][..., :70]
    inputs["audio_mask"] = inputs["audio_mask"][:, :70]
    padded = pad_audio(inputs)
    assert padded["input_features"].shape[-1] == MIN_DYNAMIC_AUDIO_FRAMES and inputs["audio_mask"].shape[-1] == 70
    with torch.no_grad():
        short, longer = model(**inputs), model(**padded)
    torch.testing.assert_close(longer.logits, short.logits, atol=1e-6, rtol=1e-5)
    width = short.audio_attentions.shape[-1]
    assert width == 1 and longer.audio_attentions.shape[-1] == 2  # why a dynamic program needs the padding
    assert torch.all(longer.audio_attentions[..., width:] == 0)
    # The constant is the audio CNN's own arithmetic: one map column more than the shortest audio it maps.
    assert MIN_DYNAMIC_AUDIO_FRAMES - 63 == model.avemo.audio_encoder.time_stride


NO_DROPOUT = dict(face_dropout=0.0, attention_dropout=0.0, fbp_dropout=0.0, classifier_dropout=0.0)


def _compiled_training_step_matches_eager(model, compiled, inputs):
    reference = copy.deepcopy(model)
    model.train()
    reference.train()
    compiled(**inputs).loss.backward()
    reference(**inputs).loss.backward()
    for (name, parameter), expected in zip(model.named_parameters(), reference.parameters()):
        if expected.grad is not None:
            torch.testing.assert_close(parameter.grad, expected.grad, atol=1e-5, rtol=1e-4, msg=name)
    for (name, buffer), expected in zip(model.named_buffers(), reference.buffers()):
        torch.testing.assert_close(buffer, expected, atol=1e-6, rtol=1e-5, msg=name)
    assert model.training_seen.tolist() == [1, TESTER.batch_size]  # counted inside the graph too


# IR50 (BatchNorm: the training step keeps its one graph break) and VGG-Face (none: one graph in training too).
@pytest.mark.parametrize("variant", [EXPORT_VARIANTS[0], EXPORT_VARIANTS[5]], ids=variant_id)
def test_torch_compile_captures_the_whole_graph(variant):
    """fullgraph=True fails on any graph break; AOT autograd also traces the backward pass. (The inductor backend
    compiles the same graph to C++, a minute on this CPU per model: left to bench/, not run here.) Without dropout,
    so that the compiled and the eager step draw nothing at random.

    A training step is one graph too where the face CNN has no BatchNorm in training mode (VGG-Face); otherwise it
    keeps the eager gather of the faces (one graph break) so that the batch statistics see the same faces."""
    model = _model(variant | NO_DROPOUT).eval()
    inputs = TESTER.prepare_inputs(model.config)
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(**inputs).logits, model(**inputs).logits, atol=1e-5, rtol=1e-5)
    norms = [m for m in model.avemo.face_encoder.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if norms:
        with pytest.raises(Exception, match="(?i)graph break|data-dependent|dynamic shape"):
            compiled.train()(**inputs)
        torch._dynamo.reset()
        compiled = torch.compile(model, backend="aot_eager")
    _compiled_training_step_matches_eager(model, compiled, inputs)
