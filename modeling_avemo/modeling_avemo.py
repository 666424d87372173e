"""AVEmo: audio-video emotion recognition (Zhou et al., "Exploring Emotion Features and Fusion Strategies for
Audio-Video Emotion Recognition", EmotiW 2019).

faces (batch, frames, C, S, S) -> face CNN per frame -> visual attention -> v ─┐
log-mel+deltas (batch, 3, mel, time) -> AlexNet conv map -> audio attention -> a ─┴─ fusion (FBP | concat) -> classifier

Missing modalities. A clip whose `frame_mask` is all zero (no face found) or whose `audio_mask` is all zero (no
audio track) has nothing to pool for that modality. Its pooled vector is replaced by a learned placeholder
(`missing_visual_embedding`, `missing_audio_embedding`), the same for every such clip. The fused vector, and so
the prediction, then varies only with the modality that is present. The placeholders are trained whenever a
training batch holds such clips.

Compiling and exporting. Eagerly, the face CNN only sees the frames that hold a face (a boolean gather, whose
size depends on the data). Under `torch.compile`, `torch.export` and the ONNX exporter every frame goes through it
and the mask zeroes the rest: the same numbers, and a graph without data-dependent shapes. The one exception is
training with the face CNN's BatchNorms in training mode, whose batch statistics must not see padded frames: a
compiled training step then keeps the gather (one graph break; `fullgraph=True` refuses it).

This file is saved next to the weights as remote code: it imports only torch, transformers and its flat siblings.
"""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput
from transformers.utils.import_utils import is_torchdynamo_compiling

from .attention_avemo import build_pooling
from .backbones_avemo import build_audio_encoder, build_face_encoder
from .configuration_avemo import ALEXNET_MIN_FRAMES, AVEmoConfig
from .fusion_avemo import build_fusion
from .registry_avemo import REGISTRIES


# The three modules above register a class for every name registry_avemo.py declares: a name the config accepts
# but nothing builds would otherwise only fail when such a model is made.
for _registry in REGISTRIES:
    if _registry.unregistered():
        _names = ", ".join(_registry.unregistered())
        raise ImportError(f"no class is registered for the {_registry.kind} name(s) {_names}")


@dataclass
class AVEmoModelOutput(ModelOutput):
    """
    fused_embeds (`torch.FloatTensor` of shape `(batch_size, config.fused_size)`):
        The vector the classifier sees: the fusion of both modalities, or the one modality's vector.
    visual_embeds (`torch.FloatTensor` of shape `(batch_size, config.visual_output_size)`, *optional*):
        Attention-pooled face vector (the learned placeholder for clips without a face).
    audio_embeds (`torch.FloatTensor` of shape `(batch_size, config.audio_output_size)`, *optional*):
        Attention-pooled audio vector (the learned placeholder for clips without audio).
    visual_attentions (`torch.FloatTensor` of shape `(batch_size, frames)`, *optional*):
        Weight of each frame in the visual vector; sums to 1 over the frames with a face, 0 on the others.
    audio_attentions (`torch.FloatTensor` of shape `(batch_size, map_height, map_width)`, *optional*):
        Weight of each cell of the AlexNet map (rows: mel bands, columns: time); sums to 1 over the real cells.
    visual_present (`torch.BoolTensor` of shape `(batch_size,)`, *optional*):
        Whether the clip had at least one face frame.
    audio_present (`torch.BoolTensor` of shape `(batch_size,)`, *optional*):
        Whether the clip had audio.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned when `output_hidden_states=True`):
        What each stage made, in order, for the modalities the model uses:
        - the face CNN's vector of each frame, `(batch_size, frames, config.face_embedding_size)` (zeros on frames
          without a face; the vectors given as `frame_embeds` when those were passed);
        - the audio CNN's map, `(batch_size, audio channels, map_height, map_width)` (rows: mel bands, columns: time;
          columns past a clip's length are zero);
        - the fused vector, `(batch_size, config.fused_size)` (the same tensor as `fused_embeds`).
    attentions (`tuple(torch.FloatTensor)`, *optional*, returned when `output_attentions=True`):
        The self-attention probabilities of each transformer-attention pooling, faces first, then audio, each
        `(batch_size, config.transformer_attention_heads, n, n)` with n the frames or the map's cells (row-major). A
        modality pooled otherwise has no such map and adds nothing; its pooling weights are `visual_attentions` /
        `audio_attentions`, returned always.
    """

    fused_embeds: torch.FloatTensor | None = None
    visual_embeds: torch.FloatTensor | None = None
    audio_embeds: torch.FloatTensor | None = None
    visual_attentions: torch.FloatTensor | None = None
    audio_attentions: torch.FloatTensor | None = None
    visual_present: torch.BoolTensor | None = None
    audio_present: torch.BoolTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class AVEmoForVideoClassificationOutput(ModelOutput):
    """
    loss (`torch.FloatTensor` of shape `()`, *optional*): cross-entropy, when `labels` are given.
    logits (`torch.FloatTensor` of shape `(batch_size, config.num_labels)`): unnormalised class scores.
    visual_attentions, audio_attentions, hidden_states, attentions: as in [`AVEmoModelOutput`].
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    visual_attentions: torch.FloatTensor | None = None
    audio_attentions: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


class AVEmoPreTrainedModel(PreTrainedModel):
    config_class = AVEmoConfig
    config: AVEmoConfig
    base_model_prefix = "avemo"
    main_input_name = "pixel_values"
    input_modalities = ("video", "audio")
    # The face CNN's blocks and the audio CNN's stages are GradientCheckpointingLayers (backbones_avemo.py).
    supports_gradient_checkpointing = True
    # Transformer-attention pooling runs through transformers' attention functions (attention_avemo.py).
    _supports_sdpa = True
    # The loss is a per-batch mean: the Trainer must scale it for gradient accumulation itself.
    accepts_loss_kwargs = False

    def _init_weights(self, module):
        super()._init_weights(module)
        # CNNs start from He initialisation as in torchvision (the library default N(0, 0.02) starves deep stacks).
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.PReLU):
            init.constant_(module.weight, 0.25)
        elif isinstance(module, AVEmoModel):
            for placeholder in (module.missing_visual_embedding, module.missing_audio_embedding):
                if placeholder is not None:
                    init.normal_(placeholder, std=self.config.initializer_range)
        elif isinstance(module, AVEmoForVideoClassification):
            init.zeros_(module.training_seen)

    def _set_gradient_checkpointing(self, *args, **kwargs):
        super()._set_gradient_checkpointing(*args, **kwargs)
        # Each block's checkpoint function, made to give what a run without checkpointing gives (see _BlockCheckpoint).
        for module in self.modules():
            function = getattr(module, "_gradient_checkpointing_func", None)
            if function is not None and not isinstance(function, _BlockCheckpoint):
                module._gradient_checkpointing_func = _BlockCheckpoint(function, module)

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save the model as transformers does, after recording the training since load in its provenance and, for
        remote code, setting the config's `auto_map` (all three auto classes) and `custom_pipelines`."""
        # register_for_auto_class only writes the saving class's own entry: name all three so that a classifier
        # folder also loads with AutoModel (the base model, through base_model_prefix) and vice versa.
        if self._auto_class is not None:
            # The relative import also makes transformers copy pipeline_avemo.py beside this file, at save and when
            # the folder is loaded as remote code, without importing it when a model loads.
            from .pipeline_avemo import AVEmoVideoClassificationPipeline

            self.config.auto_map = {
                "AutoConfig": "configuration_avemo.AVEmoConfig",
                "AutoModel": "modeling_avemo.AVEmoModel",
                "AutoModelForVideoClassification": "modeling_avemo.AVEmoForVideoClassification",
            }
            self.config.custom_pipelines = {
                "video-classification": {
                    "impl": f"pipeline_avemo.{AVEmoVideoClassificationPipeline.__name__}",
                    "pt": ["AutoModelForVideoClassification"],
                    "type": "multimodal",
                }
            }
        self._record_training_since_load()
        return super().save_pretrained(save_directory, *args, **kwargs)

    def _record_training_since_load(self) -> None:
        """Provenance for training loops avemo does not run (the plain Trainer, a hand-written loop): batches seen
        in training mode with labels since this model was loaded or made are recorded as one training run, updated
        in place by each later save (checkpoints included)."""
        counts = getattr(self, "training_seen", None)
        seen, clips = (0, 0) if counts is None else (int(counts[0]), int(counts[1]))
        if not seen:
            return
        run = getattr(self, "_training_run", None)
        if run is None:
            run = self._training_run = self.config.record_training(
                tool="training loop outside avemo (e.g. transformers Trainer)", corpus="custom"
            )
        run.update(
            batches=seen,
            clips=clips,
            labels=self.config.labels,
        )
        self.config.trained = True

    def training_run(self, **details) -> dict:
        """The provenance entry of the training run in progress (made on first use): tools that know more about
        the run (corpus, split, steps) add it here; batches and clips seen are filled in at each save."""
        run = getattr(self, "_training_run", None)
        if run is None:
            run = self._training_run = self.config.record_training(**details)
        else:
            run.update(details)
        return run


class _BlockCheckpoint:
    """The checkpoint function of one block (torch.utils.checkpoint.checkpoint with the user's settings, as
    transformers hands it to each GradientCheckpointingLayer), made faithful to a run without checkpointing:
    - the second run of the block (its recomputation in the backward pass) leaves the block's BatchNorm running
      statistics as the first run left them, instead of updating them twice;
    - re-entrant checkpointing (`use_reentrant=True`) only gives gradients to a block's parameters when one of its
      inputs needs a gradient: a block fed the model inputs directly (the first stage of AlexNet and VGG-Face) runs
      without it."""

    def __init__(self, checkpoint, block: nn.Module):
        self.checkpoint = checkpoint
        self.reentrant = bool(getattr(checkpoint, "keywords", {}).get("use_reentrant", False))
        self.norms = [
            module
            for module in block.modules()
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats
        ]

    def __call__(self, function, *args, **kwargs):
        if self.reentrant and not any(isinstance(arg, torch.Tensor) and arg.requires_grad for arg in args):
            return function(*args, **kwargs)
        if not self.norms:
            return self.checkpoint(function, *args, **kwargs)
        runs = 0

        def run_once_updating_statistics(*inner_args, **inner_kwargs):
            nonlocal runs
            runs += 1
            if runs == 1:
                return function(*inner_args, **inner_kwargs)
            # The recomputation normalises with the batch's statistics, as the first run did, and moves the running
            # ones by nothing (momentum 0; the same operations run, so the same tensors are saved for the backward).
            settings = [(norm, norm.momentum, norm.num_batches_tracked.clone()) for norm in self.norms]
            for norm in self.norms:
                norm.momentum = 0.0
            try:
                return function(*inner_args, **inner_kwargs)
            finally:
                for norm, momentum, count in settings:
                    norm.momentum = momentum
                    norm.num_batches_tracked.copy_(count)

        return self.checkpoint(run_once_updating_statistics, *args, **kwargs)


def _prefix_lengths(mask: torch.Tensor, name: str) -> torch.Tensor:
    """Number of ones of a (batch, time) mask that must be ones followed by zeros (right padding). The check needs
    the mask's values, so a compiled or exported graph leaves it out (its inputs come from the processor)."""
    mask = mask.bool()
    lengths = mask.sum(dim=-1)
    if not is_torchdynamo_compiling():
        positions = torch.arange(mask.shape[-1], device=mask.device)
        if not torch.equal(mask, positions[None, :] < lengths[:, None]):
            raise ValueError(f"{name} must be 1 on a prefix of each row and 0 after it (right padding)")
    return lengths


class AVEmoModel(AVEmoPreTrainedModel):
    """The network without its classifier: per-modality vectors, the fused vector and the attention weights."""

    def __init__(self, config: AVEmoConfig):
        super().__init__(config)
        self.face_encoder = build_face_encoder(config) if config.uses_visual else None
        self.visual_attention = (
            build_pooling(config.visual_attention, config.face_embedding_size, config) if config.uses_visual else None
        )
        self.audio_encoder = build_audio_encoder(config) if config.uses_audio else None
        self.audio_attention = (
            build_pooling(config.audio_attention, config.audio_embedding_size, config) if config.uses_audio else None
        )
        self.fusion = build_fusion(config) if config.modalities == "audio_visual" else None
        self.missing_visual_embedding = (
            nn.Parameter(torch.zeros(config.visual_output_size)) if config.uses_visual else None
        )
        self.missing_audio_embedding = (
            nn.Parameter(torch.zeros(config.audio_output_size)) if config.uses_audio else None
        )
        self.post_init()

    def _check_inputs(self, pixel_values, frame_mask, input_features, audio_mask, frame_embeds=None):
        config = self.config
        batch_sizes = {}
        if frame_embeds is not None:
            if pixel_values is not None:
                raise ValueError("pass either pixel_values or frame_embeds, not both")
            if frame_embeds.dim() != 3 or frame_embeds.shape[-1] != config.face_embedding_size:
                raise ValueError(
                    f"frame_embeds must have shape (batch, frames, {config.face_embedding_size}); "
                    f"got {tuple(frame_embeds.shape)}"
                )
            batch_sizes["frame_embeds"] = frame_embeds.shape[0]
            if frame_mask is not None and frame_mask.shape != frame_embeds.shape[:2]:
                raise ValueError(
                    f"frame_mask must have shape (batch, frames) = {tuple(frame_embeds.shape[:2])}; "
                    f"got {tuple(frame_mask.shape)}"
                )
        elif pixel_values is not None:
            size, channels = config.face_size, config.face_channels
            if pixel_values.dim() != 5 or pixel_values.shape[2:] != (channels, size, size):
                raise ValueError(
                    f"pixel_values must have shape (batch, frames, {channels}, {size}, {size}) for face_size={size} "
                    f"and the {config.face_recipe['color']} face recipe {config.face_recipe['name']!r}; "
                    f"got {tuple(pixel_values.shape)}"
                )
            batch_sizes["pixel_values"] = pixel_values.shape[0]
            if frame_mask is not None and frame_mask.shape != pixel_values.shape[:2]:
                raise ValueError(
                    f"frame_mask must have shape (batch, frames) = {tuple(pixel_values.shape[:2])}; "
                    f"got {tuple(frame_mask.shape)}"
                )
        elif frame_mask is not None:
            raise ValueError("frame_mask was given without pixel_values")
        if input_features is not None:
            if input_features.dim() != 4 or input_features.shape[1:3] != (3, config.num_mel_bins):
                raise ValueError(
                    f"input_features must have shape (batch, 3, {config.num_mel_bins}, time): log-mel, delta and "
                    f"delta-delta with num_mel_bins={config.num_mel_bins}; got {tuple(input_features.shape)}"
                )
            batch_sizes["input_features"] = input_features.shape[0]
            if audio_mask is not None and audio_mask.shape != (input_features.shape[0], input_features.shape[-1]):
                raise ValueError(
                    "audio_mask must have shape (batch, time) = "
                    f"{(input_features.shape[0], input_features.shape[-1])}; got {tuple(audio_mask.shape)}"
                )
        elif audio_mask is not None:
            raise ValueError("audio_mask was given without input_features")
        if not batch_sizes:
            needed = {
                "audio_visual": "pixel_values (or frame_embeds) and/or input_features",
                "visual": "pixel_values (or frame_embeds)",
                "audio": "input_features",
            }
            raise ValueError(f"this {config.modalities} model needs {needed[config.modalities]}")
        sizes = list(batch_sizes.values())
        # Compared pairwise, not through a set: exported with a dynamic batch, the sizes are symbols, not numbers.
        if any(size != sizes[0] for size in sizes[1:]):
            raise ValueError(f"batch sizes differ between inputs: {batch_sizes}")
        return sizes[0]

    def embed_faces(self, faces: torch.Tensor) -> torch.Tensor:
        """The face CNN's vector of each face crop, (n, C, S, S) -> (n, face_embedding_size). The crops are laid out
        as the weights are: with channels-last weights (`avemo predict` on a CPU) every convolution would otherwise
        convert its input first, which costs more than the convolution on small faces."""
        if is_torchdynamo_compiling():
            return self.face_encoder(faces)  # the compiler chooses layouts itself
        if getattr(self, "_channels_last_weights", None) is None:
            convs = [
                m
                for m in self.face_encoder.modules()
                if isinstance(m, nn.Conv2d) and m.in_channels > 1 and m.kernel_size != (1, 1)
            ]
            weight = convs[0].weight if convs else None
            self._channels_last_weights = bool(
                weight is not None
                and weight.is_contiguous(memory_format=torch.channels_last)
                and not weight.is_contiguous()
            )
        if self._channels_last_weights:
            faces = faces.contiguous(memory_format=torch.channels_last)
        return self.face_encoder(faces)

    def _apply(self, fn, *args, **kwargs):
        self._channels_last_weights = None  # .to(memory_format=...) may change the layout: look again
        return super()._apply(fn, *args, **kwargs)

    def _face_cnn_sees_every_frame(self) -> bool:
        """Whether to run the face CNN on every frame, masked after (see the module docstring): when compiled or
        exported, unless a BatchNorm of it is in training mode (its statistics would then count padded frames)."""
        if not is_torchdynamo_compiling():
            return False
        norms = (
            module for module in self.face_encoder.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)
        )
        return not any(norm.training for norm in norms)

    def _encode_visual(self, pixel_values, frame_mask, batch_size, device, frame_embeds=None, output_attentions=False):
        """Faces -> (pooled vector, frame weights, present, frame vectors, attention map or None). Eagerly, the CNN
        only sees frames that hold a face; compiled or exported, it sees every frame (see the module docstring)."""
        if frame_embeds is not None:
            frame_mask = (
                torch.ones(frame_embeds.shape[:2], dtype=torch.bool, device=device)
                if frame_mask is None
                else frame_mask.bool()
            )
            frame_embeds = frame_embeds.to(self.dtype) * frame_mask[..., None]
        elif pixel_values is None:
            frame_mask = torch.zeros(batch_size, 1, dtype=torch.bool, device=device)
            frame_embeds = torch.zeros(batch_size, 1, self.config.face_embedding_size, dtype=self.dtype, device=device)
        else:
            frame_mask = (
                torch.ones(pixel_values.shape[:2], dtype=torch.bool, device=device)
                if frame_mask is None
                else frame_mask.bool()
            )
            if self._face_cnn_sees_every_frame():
                encoded = self.embed_faces(pixel_values.flatten(0, 1).to(self.dtype))
                frame_embeds = encoded.view(*frame_mask.shape, -1) * frame_mask[..., None].to(encoded.dtype)
            else:
                faces = pixel_values[frame_mask].to(self.dtype)
                frame_embeds = pixel_values.new_zeros(
                    *frame_mask.shape, self.config.face_embedding_size, dtype=self.dtype
                )
                if faces.shape[0] > 0:
                    encoded = self.embed_faces(faces)  # bf16/fp16 under autocast
                    frame_embeds = frame_embeds.to(encoded.dtype).masked_scatter(frame_mask[..., None], encoded)
        pooled, weights, *attention = self.visual_attention(
            frame_embeds, frame_mask, output_attentions=output_attentions
        )
        present = frame_mask.any(dim=-1)
        pooled = torch.where(present[:, None], pooled, self.missing_visual_embedding.to(pooled.dtype))
        return pooled, weights, present, frame_embeds, attention[0] if attention else None

    def _encode_audio(self, input_features, audio_mask, batch_size, device, output_attentions=False):
        """Log-mel image -> (pooled vector, map-cell weights (batch, H, W), present, map, attention map or None)."""
        if input_features is None:
            input_features = torch.zeros(
                batch_size, 3, self.config.num_mel_bins, ALEXNET_MIN_FRAMES, dtype=self.dtype, device=device
            )
            lengths = torch.zeros(batch_size, dtype=torch.long, device=device)
        else:
            input_features = input_features.to(self.dtype)
            if audio_mask is None:
                lengths = torch.full((batch_size,), input_features.shape[-1], dtype=torch.long, device=device)
            else:
                lengths = _prefix_lengths(audio_mask, "audio_mask")
        # Clips shorter than the conv stack's receptive field are zero-padded to it (and counted as that long).
        if input_features.shape[-1] < ALEXNET_MIN_FRAMES:
            input_features = nn.functional.pad(input_features, (0, ALEXNET_MIN_FRAMES - input_features.shape[-1]))
        lengths = torch.where(lengths > 0, lengths.clamp_min(ALEXNET_MIN_FRAMES), lengths)
        time = torch.arange(input_features.shape[-1], device=device)
        input_features = input_features * (time[None, :] < lengths[:, None]).to(input_features.dtype)[:, None, None, :]
        feature_map, map_lengths = self.audio_encoder(input_features, lengths)
        batch, channels, height, width = feature_map.shape
        cell_mask = (torch.arange(width, device=device)[None, :] < map_lengths[:, None])[:, None, :].expand(
            batch, height, width
        )
        cells = feature_map.flatten(2).transpose(1, 2)  # (batch, height * width, channels), row-major cells
        pooled, weights, *attention = self.audio_attention(
            cells, cell_mask.flatten(1), output_attentions=output_attentions
        )
        present = map_lengths > 0
        pooled = torch.where(present[:, None], pooled, self.missing_audio_embedding.to(pooled.dtype))
        weights = weights.unflatten(1, (height, width))
        return pooled, weights, present, feature_map, attention[0] if attention else None

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        frame_mask: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        audio_mask: torch.Tensor | None = None,
        return_dict: bool | None = None,
        frame_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        **kwargs,
    ) -> AVEmoModelOutput | tuple:
        r"""
        The pooled vector of each modality the config uses and their fusion, as an [`AVEmoModelOutput`] (a tuple with
        `return_dict=False`). It is long because it documents its arguments, as transformers' forwards do.

        pixel_values (`torch.FloatTensor` of shape `(batch_size, frames, channels, face_size, face_size)`):
            Face crops prepared by the config's `face_recipe` (3 channels, or 1 for grayscale recipes). Frames where
            `frame_mask` is 0 are never read.
        frame_mask (`torch.LongTensor` of shape `(batch_size, frames)`, *optional*):
            1 where the frame holds a face, 0 for padding or faceless frames. Defaults to all ones.
        input_features (`torch.FloatTensor` of shape `(batch_size, 3, num_mel_bins, time)`):
            Log-mel spectrogram, its delta and its delta-delta, as produced by the feature extractor.
        audio_mask (`torch.LongTensor` of shape `(batch_size, time)`, *optional*):
            1 on real audio frames, 0 on right padding. All zero for a clip without audio. Defaults to all ones.
        frame_embeds (`torch.FloatTensor` of shape `(batch_size, frames, face_embedding_size)`, *optional*):
            The face CNN's vectors of the frames, instead of `pixel_values` (as `inputs_embeds` in transformers):
            for callers that embed each frame once and pool it in several windows (`avemo predict --timeline`).
        output_hidden_states (`bool`, *optional*):
            Return `hidden_states` (see [`AVEmoModelOutput`]); defaults to `config.output_hidden_states`.
        output_attentions (`bool`, *optional*):
            Return `attentions`, the transformer-attention maps; defaults to `config.output_attentions`.
        """
        config = self.config
        return_dict = return_dict if return_dict is not None else config.return_dict
        output_hidden_states = output_hidden_states if output_hidden_states is not None else config.output_hidden_states
        output_attentions = output_attentions if output_attentions is not None else config.output_attentions
        if not config.uses_visual:
            pixel_values = frame_mask = frame_embeds = None
        if not config.uses_audio:
            input_features = audio_mask = None
        batch_size = self._check_inputs(pixel_values, frame_mask, input_features, audio_mask, frame_embeds)
        device = self.device

        visual = visual_weights = visual_present = None
        audio = audio_weights = audio_present = None
        hidden_states, attentions = [], []
        if config.uses_visual:
            visual, visual_weights, visual_present, frame_vectors, attention = self._encode_visual(
                pixel_values, frame_mask, batch_size, device, frame_embeds, output_attentions
            )
            hidden_states.append(frame_vectors)
            attentions.append(attention)
        if config.uses_audio:
            audio, audio_weights, audio_present, audio_map, attention = self._encode_audio(
                input_features, audio_mask, batch_size, device, output_attentions
            )
            hidden_states.append(audio_map)
            attentions.append(attention)
        if self.fusion is not None:
            fused = self.fusion(audio, visual)
        else:
            fused = visual if visual is not None else audio
        hidden_states.append(fused)

        output = AVEmoModelOutput(
            fused_embeds=fused,
            visual_embeds=visual,
            audio_embeds=audio,
            visual_attentions=visual_weights,
            audio_attentions=audio_weights,
            visual_present=visual_present,
            audio_present=audio_present,
            hidden_states=tuple(hidden_states) if output_hidden_states else None,
            attentions=tuple(found for found in attentions if found is not None) if output_attentions else None,
        )
        return output if return_dict else output.to_tuple()


class AVEmoForVideoClassification(AVEmoPreTrainedModel):
    """AVEmo with a dropout + linear classifier over the fused vector."""

    def __init__(self, config: AVEmoConfig):
        super().__init__(config)
        self.avemo = AVEmoModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.fused_size, config.num_labels)
        # Batches and clips trained on since the model was made or loaded, for the provenance that save_pretrained
        # records. A tensor rather than Python numbers, so that a compiled training step counts without recompiling.
        self.register_buffer("training_seen", torch.zeros(2, dtype=torch.long), persistent=False)
        self.post_init()

    def relabel(self, labels, keep_matching: bool = True) -> "AVEmoForVideoClassification":
        """Give the classifier another label set (a corpus's own, e.g. CREMA-D's 6 or RAVDESS's 8): the CNNs,
        attentions and fusion are kept; the classifier is re-initialised, except that rows of labels with the same
        name in the old set are kept when `keep_matching` (Angry stays Angry). Updates id2label/label2id/num_labels
        and records it in the provenance; the model counts as untrained until trained if any row is new.

            model = AutoModelForVideoClassification.from_pretrained("fer2013-faces-folder").relabel(crema_labels)

        Returns the model."""
        labels = [str(label) for label in labels]
        if not labels or len(set(labels)) != len(labels):
            raise ValueError(f"labels must be a non-empty list of distinct names; got {labels}")
        old = {self.config.id2label[i]: i for i in range(self.config.num_labels)}
        classifier = nn.Linear(self.config.fused_size, len(labels)).to(
            self.classifier.weight.device, self.classifier.weight.dtype
        )
        with torch.no_grad():
            init.normal_(classifier.weight, std=self.config.initializer_range)
            init.zeros_(classifier.bias)
            kept = [label for label in labels if keep_matching and label in old]
            for row, label in enumerate(labels):
                if label in kept:
                    classifier.weight[row] = self.classifier.weight[old[label]]
                    classifier.bias[row] = self.classifier.bias[old[label]]
        self.classifier = classifier
        self.config.num_labels = len(labels)  # first: transformers resets id2label when num_labels changes
        self.config.id2label = dict(enumerate(labels))
        self.config.label2id = {label: index for index, label in enumerate(labels)}
        if len(kept) < len(labels):
            self.config.trained = False  # some rows are random until trained
        self.config.provenance.setdefault("weights", []).append(
            {
                "part": "classifier",
                "source": f"relabelled to {len(labels)} labels; kept the rows of {', '.join(kept) if kept else 'none'}",
            }
        )
        return self

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The loss of transformers' classification heads for `config.problem_type` (when unset: regression for one
        label, else single-label for integer labels and multi-label for the others): cross-entropy over class
        indices (batch,), binary cross-entropy over (batch, num_labels) targets in [0, 1], or mean squared error.
        Labels of another shape are refused, naming the shape wanted."""
        problem = self.config.problem_type
        if problem is None:
            if self.config.num_labels == 1:
                problem = "regression"
            elif labels.dtype in (torch.long, torch.int, torch.int16, torch.int8, torch.uint8):
                problem = "single_label_classification"
            else:
                problem = "multi_label_classification"
        batch, num_labels = logits.shape
        wanted = {
            "single_label_classification": (batch,),
            "multi_label_classification": (batch, num_labels),
            "regression": (batch,) if num_labels == 1 else (batch, num_labels),
        }[problem]
        shape = tuple(labels.shape)
        if shape != wanted and not (problem == "regression" and num_labels == 1 and shape == (batch, 1)):
            raise ValueError(f"labels must have shape {wanted} for {problem}; got {shape}")
        if problem == "single_label_classification":
            return nn.functional.cross_entropy(logits.float(), labels.long())
        if problem == "multi_label_classification":
            return nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float())
        return nn.functional.mse_loss(logits.float().view(labels.shape), labels.float())

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        frame_mask: torch.Tensor | None = None,
        input_features: torch.Tensor | None = None,
        audio_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
        frame_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        **kwargs,
    ) -> AVEmoForVideoClassificationOutput | tuple:
        r"""
        labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
            Class indices in `[0, config.num_labels)`; when given, the output carries the cross-entropy `loss`. With
            `config.problem_type="multi_label_classification"` (or float labels), targets of shape
            `(batch_size, num_labels)` and a binary cross-entropy; `"regression"`, a mean squared error.
        The other arguments are [`AVEmoModel`]'s.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.avemo(
            pixel_values,
            frame_mask,
            input_features,
            audio_mask,
            return_dict=True,
            frame_embeds=frame_embeds,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
        )
        logits = self.classifier(self.dropout(outputs.fused_embeds))
        loss = None
        if labels is not None:
            loss = self._loss(logits, labels.to(logits.device))
            if self.training and torch.is_grad_enabled():
                # Counted for the provenance record written at save_pretrained (see _record_training_since_load).
                self.training_seen[0] += 1
                self.training_seen[1] += labels.shape[0]
        output = AVEmoForVideoClassificationOutput(
            loss=loss,
            logits=logits,
            visual_attentions=outputs.visual_attentions,
            audio_attentions=outputs.audio_attentions,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return output if return_dict else output.to_tuple()


# Remote code: save_pretrained copies these files and writes their auto_map (see AVEmoPreTrainedModel).
AVEmoConfig.register_for_auto_class()
AVEmoModel.register_for_auto_class("AutoModel")
AVEmoForVideoClassification.register_for_auto_class("AutoModelForVideoClassification")

__all__ = [
    "AVEmoModel",
    "AVEmoForVideoClassification",
    "AVEmoPreTrainedModel",
    "AVEmoModelOutput",
    "AVEmoForVideoClassificationOutput",
]
