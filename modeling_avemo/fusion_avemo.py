"""Cross-modal fusion of the pooled audio vector a and visual vector v.

Each fusion is registered under its config name (registry_avemo.py declares the names) and built by
`from_config(config)`.
"""

import torch
from torch import nn

from .registry_avemo import FUSIONS


def signed_sqrt(values: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Power normalisation sign(z) * sqrt(|z|), with a zero (not infinite) gradient at z = 0."""
    return torch.sign(values) * values.abs().clamp_min(eps).sqrt()


@FUSIONS.register("concat")
class ConcatFusion(nn.Module):
    @classmethod
    def from_config(cls, config) -> "ConcatFusion":
        """A concatenation fusion; it has no parameters, so the config does not change it."""
        return cls()

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        return torch.cat([audio, visual], dim=-1)


@FUSIONS.register("fbp")
class FactorizedBilinearPooling(nn.Module):
    """Factorized bilinear pooling in the MFB form (openvqa `MFB`).

    a~ = U a + b_U and v~ = V v + b_V, both k*o wide; z = a~ * v~; dropout; sum-pool consecutive groups of k
    -> o values; z <- sign(z) sqrt(|z|); z <- z / ||z||_2.
    """

    def __init__(self, audio_size: int, visual_size: int, factor: int, output_size: int, dropout: float):
        super().__init__()
        self.factor = factor
        self.output_size = output_size
        self.proj_audio = nn.Linear(audio_size, factor * output_size)
        self.proj_visual = nn.Linear(visual_size, factor * output_size)
        self.dropout = nn.Dropout(dropout)

    @classmethod
    def from_config(cls, config) -> "FactorizedBilinearPooling":
        """An FBP fusion of the config's `audio_output_size` and `visual_output_size` vectors, with `fbp_k` factors,
        `fbp_o` outputs and `fbp_dropout`."""
        return cls(config.audio_output_size, config.visual_output_size, config.fbp_k, config.fbp_o, config.fbp_dropout)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        joint = self.dropout(self.proj_audio(audio) * self.proj_visual(visual))
        pooled = joint.view(-1, self.output_size, self.factor).sum(dim=-1)
        return nn.functional.normalize(signed_sqrt(pooled), dim=-1)


def build_fusion(config) -> nn.Module:
    """The fusion registered as `config.fusion`; an unknown name is a ValueError (never a silent default)."""
    return FUSIONS.get(config.fusion).from_config(config)
