"""Intra-modal attention: a set of vectors f_1..f_n (frames, or audio map cells) -> one vector.

Every pooling takes `features` (batch, n, dim) and a boolean `mask` (batch, n), True on real entries, and returns
the pooled vector and the weights (batch, n) it gave each entry. Masked entries get exactly zero weight, the
weights of a clip sum to one over its real entries, and a clip without any real entry pools to a zero vector with
all-zero weights (never NaN); the model then substitutes its learned "missing modality" vector.

With `output_attentions=True` a third value comes back: the pooling's attention map (batch, heads, n, n), the
probabilities of transformer-attention's self-attention layer, or None for the poolings that have none.

Each pooling is registered under its config name (registry_avemo.py declares the names) and built by
`from_config(dim, config)`.
"""

import torch
from torch import nn
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .registry_avemo import POOLINGS


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis restricted to `mask`; a row without any True entry gives all zeros."""
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1) * mask


def normalize_weights(weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scale non-negative weights to sum to one over the real entries (zeros stay zeros)."""
    weights = weights * mask
    return weights / weights.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(weights.dtype).tiny)


def weighted_sum(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The sum of the vectors `features` (batch, n, dim) weighted by `weights` (batch, n): (batch, dim)."""
    return torch.einsum("bn,bnd->bd", weights, features)


def _pooled(pooled, weights, output_attentions: bool, attention_map=None) -> tuple:
    """(pooled, weights), with the attention map (or None) appended when it was asked for."""
    return (pooled, weights, attention_map) if output_attentions else (pooled, weights)


@POOLINGS.register("mean")
class MeanPooling(nn.Module):
    """Plain average of the real entries: the no-attention baseline."""

    @classmethod
    def from_config(cls, dim: int, config) -> "MeanPooling":
        """A mean pooling; it has no parameters, so neither `dim` nor the config changes it."""
        return cls()

    def forward(self, features: torch.Tensor, mask: torch.Tensor, output_attentions: bool = False) -> tuple:
        weights = normalize_weights(torch.ones_like(features[..., 0]), mask)
        return _pooled(weighted_sum(features, weights), weights, output_attentions)


@POOLINGS.register("log_mean_exp")
class LogMeanExpPooling(nn.Module):
    """log(mean_i exp(f_i)) over the real entries, per dimension.

    With per-frame log-probabilities f_i (the mini-Xception's frame vectors) this is the log of the average
    per-frame probability, so a classifier that only reorders the classes predicts exactly the clip average of
    the frame network's probabilities. Every real entry counts equally: the reported weights are 1 / n.
    """

    @classmethod
    def from_config(cls, dim: int, config) -> "LogMeanExpPooling":
        """A log-mean-exp pooling; it has no parameters, so neither `dim` nor the config changes it."""
        return cls()

    def forward(self, features: torch.Tensor, mask: torch.Tensor, output_attentions: bool = False) -> tuple:
        weights = normalize_weights(torch.ones_like(features[..., 0]), mask)
        count = mask.sum(dim=-1, keepdim=True).clamp_min(1).to(features.dtype)
        # A clip without any real entry reads all its entries here (so that neither pass sees -inf - -inf) and
        # pools to zeros below, as every pooling does.
        present = mask.any(dim=-1, keepdim=True)
        masked = features.masked_fill(~(mask | ~present)[..., None], float("-inf"))
        pooled = torch.logsumexp(masked, dim=1) - count.log()
        return _pooled(torch.where(present, pooled, torch.zeros_like(pooled)), weights, output_attentions)


@POOLINGS.register("self")
class SelfAttentionPooling(nn.Module):
    """FAN self-attention: alpha_i = sigmoid(q0 . f_i + b); f' = sum alpha_i f_i / sum alpha_i.

    As in FAN's code, dropout is applied to f_i before the score (not to the pooled vector).
    """

    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.alpha = nn.Sequential(nn.Linear(dim, 1), nn.Sigmoid())

    @classmethod
    def from_config(cls, dim: int, config) -> "SelfAttentionPooling":
        """A self-attention pooling of `dim`-wide vectors with the config's `attention_dropout`."""
        return cls(dim, config.attention_dropout)

    def forward(self, features: torch.Tensor, mask: torch.Tensor, output_attentions: bool = False) -> tuple:
        alphas = self.alpha(self.dropout(features)).squeeze(-1)
        weights = normalize_weights(alphas, mask)
        return _pooled(weighted_sum(features, weights), weights, output_attentions)


@POOLINGS.register("relation")
class RelationAttentionPooling(nn.Module):
    """FAN relation-attention: with f' from self-attention, beta_i = sigmoid(q1 . [f_i ; f'] + b) and
    f = sum alpha_i beta_i [f_i ; f'] / sum alpha_i beta_i, twice the input width."""

    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.alpha = nn.Sequential(nn.Linear(dim, 1), nn.Sigmoid())
        self.beta = nn.Sequential(nn.Linear(2 * dim, 1), nn.Sigmoid())

    @classmethod
    def from_config(cls, dim: int, config) -> "RelationAttentionPooling":
        """A relation-attention pooling of `dim`-wide vectors with the config's `attention_dropout`."""
        return cls(dim, config.attention_dropout)

    def forward(self, features: torch.Tensor, mask: torch.Tensor, output_attentions: bool = False) -> tuple:
        alphas = self.alpha(self.dropout(features)).squeeze(-1)
        global_feature = weighted_sum(features, normalize_weights(alphas, mask))
        relation = torch.cat([features, global_feature[:, None, :].expand_as(features)], dim=-1)
        betas = self.beta(self.dropout(relation)).squeeze(-1)
        weights = normalize_weights(alphas * betas, mask)
        return _pooled(weighted_sum(relation, weights), weights, output_attentions)


def eager_attention(module, query, key, value, attention_mask, scaling: float, dropout: float = 0.0, **kwargs):
    """Scaled dot-product attention written out (the `"eager"` implementation): query, key and value are
    (batch, heads, n, head_size), `attention_mask` is boolean (batch, 1, 1, n), True on the keys that may be attended.
    Returns the context (batch, n, heads, head_size) and the probabilities (batch, heads, n, n), in the layout of
    transformers' attention functions."""
    scores = query @ key.transpose(-1, -2) * scaling
    probabilities = masked_softmax(scores, attention_mask)
    probabilities = nn.functional.dropout(probabilities, p=dropout, training=module.training)
    return (probabilities @ value).transpose(1, 2), probabilities


@POOLINGS.register("transformer")
class TransformerAttentionPooling(nn.Module):
    """Transformer-attention (the paper's new form; its exact equations are unpublished, this is our choice).

    1. Project to a smaller width m: g_i = W f_i.
    2. One scaled dot-product self-attention layer over the set (real entries only), residual + LayerNorm:
       h_i = LayerNorm(g_i + MHA(g)_i), so each h_i encodes how f_i relates to the other vectors.
    3. Attention pooling of the original vectors: w_i = softmax_i(u . h_i), output sum w_i f_i (width unchanged).

    Step 2 runs through transformers' attention functions, chosen by the config's `attn_implementation`: `"sdpa"`
    (torch's `scaled_dot_product_attention`, the default) or `"eager"` (written out, `eager_attention`); both give
    the same numbers. The probabilities themselves (`output_attentions=True`) only exist in the eager form, so such a
    call runs eager whatever the setting.
    """

    is_causal = False  # read by transformers' attention functions: every entry may attend to every other

    def __init__(self, dim: int, attention_size: int, num_heads: int, dropout: float, config=None):
        super().__init__()
        self.config = config  # None (a stand-alone module) means eager attention
        self.num_heads = num_heads
        self.head_size = attention_size // num_heads
        self.scaling = self.head_size**-0.5
        self.dropout = nn.Dropout(dropout)
        self.projection = nn.Linear(dim, attention_size)
        self.query = nn.Linear(attention_size, attention_size)
        self.key = nn.Linear(attention_size, attention_size)
        self.value = nn.Linear(attention_size, attention_size)
        self.output = nn.Linear(attention_size, attention_size)
        self.layer_norm = nn.LayerNorm(attention_size)
        self.score = nn.Linear(attention_size, 1)

    @classmethod
    def from_config(cls, dim: int, config) -> "TransformerAttentionPooling":
        """A transformer-attention pooling of `dim`-wide vectors from the config's `transformer_attention_size`,
        `transformer_attention_heads` and `attention_dropout`; the config also picks its attention implementation."""
        return cls(
            dim,
            config.transformer_attention_size,
            config.transformer_attention_heads,
            config.attention_dropout,
            config=config,
        )

    def _split_heads(self, hidden_states: torch.Tensor) -> torch.Tensor:
        batch, length, _ = hidden_states.shape
        return hidden_states.view(batch, length, self.num_heads, self.head_size).transpose(1, 2)

    def _attention_function(self, output_attentions: bool):
        implementation = getattr(self.config, "_attn_implementation", None) or "eager"
        if output_attentions or implementation == "eager":
            return eager_attention
        return ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention)

    def forward(self, features: torch.Tensor, mask: torch.Tensor, output_attentions: bool = False) -> tuple:
        projected = self.projection(self.dropout(features))
        query, key, value = (self._split_heads(layer(projected)) for layer in (self.query, self.key, self.value))
        # A clip with no real entry attends to everything (its result is discarded below) so that softmax never
        # sees an all-masked row, which would put NaN into the forward and backward passes.
        key_mask = (mask | ~mask.any(dim=-1, keepdim=True))[:, None, None, :]
        attention = self._attention_function(output_attentions)
        context, probabilities = attention(self, query, key, value, key_mask, scaling=self.scaling, dropout=0.0)
        hidden_states = self.layer_norm(projected + self.output(context.flatten(2)))
        weights = masked_softmax(self.score(hidden_states).squeeze(-1), mask)
        return _pooled(weighted_sum(features, weights), weights, output_attentions, probabilities)


@POOLINGS.register("fcn")
class FCNAttentionPooling(nn.Module):
    """FCN speech-emotion attention: e_l = u . tanh(W a_l + b), alpha = softmax(lambda * e), c = sum alpha_l a_l."""

    def __init__(self, dim: int, hidden_size: int, temperature: float):
        super().__init__()
        self.temperature = temperature
        self.hidden = nn.Linear(dim, hidden_size)
        self.context = nn.Linear(hidden_size, 1, bias=False)

    @classmethod
    def from_config(cls, dim: int, config) -> "FCNAttentionPooling":
        """An FCN attention pooling of `dim`-wide vectors from the config's `audio_attention_hidden_size` and
        `audio_attention_lambda` (its temperature)."""
        return cls(dim, config.audio_attention_hidden_size, config.audio_attention_lambda)

    def forward(self, features: torch.Tensor, mask: torch.Tensor, output_attentions: bool = False) -> tuple:
        energies = self.context(torch.tanh(self.hidden(features))).squeeze(-1)
        weights = masked_softmax(self.temperature * energies, mask)
        return _pooled(weighted_sum(features, weights), weights, output_attentions)


def build_pooling(kind: str, dim: int, config) -> nn.Module:
    """The pooling registered as `kind` over vectors of width `dim`; an unknown kind is a ValueError."""
    return POOLINGS.get(kind).from_config(dim, config)
