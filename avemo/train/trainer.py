"""`AVEmoTrainer`: the transformers Trainer with the knobs emotion corpora need.

- learning-rate groups: the pretrained CNNs (face and audio backbones) train at `backbone_lr_scale` times the
  learning rate of the attention, fusion and classifier layers; no weight decay on biases, LayerNorm and
  BatchNorm parameters;
- class weights for unbalanced corpora (weighted cross-entropy);
- backbones can be frozen (`freeze_backbones`);
- a separate `eval_data_collator` (fixed frame sampling) for evaluation and prediction.
"""

from contextlib import contextmanager

import torch
from torch import nn
from transformers import Trainer

BACKBONE_PREFIXES = ("face_encoder.", "audio_encoder.")


def backbone_parameter_names(model: nn.Module, which=("face", "audio")) -> set[str]:
    """Names of the face and/or audio CNN parameters, with or without the classifier's `avemo.` prefix."""
    prefixes = tuple(prefix for prefix in BACKBONE_PREFIXES if prefix.split("_")[0] in which)
    names = set()
    for name, _ in model.named_parameters():
        bare = name.removeprefix("module.").removeprefix("avemo.")
        if bare.startswith(prefixes):
            names.add(name)
    return names


def freeze_backbones(model: nn.Module, which=("face", "audio")) -> int:
    """Stop gradients to the given CNNs; returns the number of frozen parameters."""
    frozen = 0
    names = backbone_parameter_names(model, which)
    for name, parameter in model.named_parameters():
        if name in names:
            parameter.requires_grad_(False)
            frozen += parameter.numel()
    return frozen


def class_weights_from_counts(counts) -> torch.Tensor:
    """Inverse-frequency weights normalised to mean 1 over the classes that occur (absent classes get 0)."""
    counts = torch.as_tensor(counts, dtype=torch.float)
    weights = torch.where(counts > 0, counts.sum() / counts.clamp_min(1), torch.zeros_like(counts))
    present = counts > 0
    return weights / weights[present].mean()


class AVEmoTrainer(Trainer):
    # compute_loss below returns a per-batch mean: the Trainer divides it for gradient accumulation.
    loss_is_scaled_for_ga = False

    def __init__(
        self,
        *args,
        class_weights: torch.Tensor | None = None,
        backbone_lr_scale: float = 1.0,
        eval_data_collator=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self.backbone_lr_scale = backbone_lr_scale
        self.eval_data_collator = eval_data_collator

    @contextmanager
    def _evaluation_collator(self):
        training_collator = self.data_collator
        if self.eval_data_collator is not None:
            self.data_collator = self.eval_data_collator
        try:
            yield
        finally:
            self.data_collator = training_collator

    def evaluate(self, *args, **kwargs):
        """transformers' evaluation, with the evaluation collator (no augmentation, evenly spaced frames); returns its
        metrics."""
        with self._evaluation_collator():
            return super().evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs):
        """transformers' prediction, with the evaluation collator; returns its PredictionOutput."""
        with self._evaluation_collator():
            return super().predict(*args, **kwargs)

    def get_decay_parameter_names(self, model: nn.Module) -> list[str]:
        """transformers' rule (no weight decay on biases and LayerNorm) and none on BatchNorm either, as face.evoLVe
        trains IR50 (`separate_irse_bn_paras`). transformers finds norm layers by type (LayerNorm only) or by a
        name containing "norm"; the BatchNorm layers here are named by index (`res_layer.0`) or `bn1`."""
        batch_norm = {
            f"{module_name}.{name}" if module_name else name
            for module_name, module in model.named_modules()
            if isinstance(module, nn.modules.batchnorm._BatchNorm)
            for name, _ in module.named_parameters(recurse=False)
        }
        return [name for name in super().get_decay_parameter_names(model) if name not in batch_norm]

    def create_optimizer(self, model=None):
        """The optimizer (transformers' choice from the arguments) over four parameter groups: the CNNs at
        backbone_lr_scale times the learning rate, the rest at it, each with and without weight decay. Returns it (made
        once)."""
        if self.optimizer is not None:
            return self.optimizer
        model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(model))
        backbone = backbone_parameter_names(model)
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        base_lr = optimizer_kwargs.pop("lr", self.args.learning_rate)
        groups = {}
        for name, parameter in model.named_parameters():
            if not parameter.requires_grad:
                continue
            key = (name in backbone, name in decay)
            groups.setdefault(key, []).append(parameter)
        parameter_groups = [
            {
                "params": params,
                "lr": base_lr * (self.backbone_lr_scale if is_backbone else 1.0),
                "weight_decay": self.args.weight_decay if decays else 0.0,
            }
            for (is_backbone, decays), params in sorted(groups.items())
        ]
        self.optimizer = optimizer_cls(parameter_groups, lr=base_lr, **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The batch's loss: the model's own, or with class weights a weighted cross-entropy of its logits (and the
        outputs, with return_outputs)."""
        if self.class_weights is None or "labels" not in inputs:
            return super().compute_loss(
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        weights = self.class_weights.to(outputs.logits.device)
        loss = nn.functional.cross_entropy(outputs.logits.float(), labels, weight=weights)
        return (loss, outputs) if return_outputs else loss
