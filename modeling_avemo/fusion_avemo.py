"""Cross-modal fusion of the pooled audio vector a and visual vector v."""

import torch
from torch import nn


def signed_sqrt(values: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Power normalisation sign(z) * sqrt(|z|), with a zero (not infinite) gradient at z = 0."""
    return torch.sign(values) * values.abs().clamp_min(eps).sqrt()


class ConcatFusion(nn.Module):
    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        return torch.cat([audio, visual], dim=-1)


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

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        joint = self.dropout(self.proj_audio(audio) * self.proj_visual(visual))
        pooled = joint.view(-1, self.output_size, self.factor).sum(dim=-1)
        return nn.functional.normalize(signed_sqrt(pooled), dim=-1)


def build_fusion(config) -> nn.Module:
    if config.fusion == "fbp":
        return FactorizedBilinearPooling(
            config.audio_output_size, config.visual_output_size, config.fbp_k, config.fbp_o, config.fbp_dropout
        )
    return ConcatFusion()
