"""Every formula of the method against its own statement, written here from METHOD.md (and the README's
"Choices" section for what the papers leave open), never against the code under test.

Each test sets small known weights (torch.no_grad + copy_) and inputs, runs the module in eval mode (dropout off)
in float64, and compares with the same equation computed step by step in NumPy. The audio front end is compared
with librosa called with the numbers of METHOD.md section 2 and the README pinned below, not read from the
extractor.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from avemo.processing import AVEmoFeatureExtractor, AVEmoProcessor
from modeling_avemo import AVEmoConfig, AVEmoForVideoClassification
from modeling_avemo.attention_avemo import (
    FCNAttentionPooling,
    MeanPooling,
    RelationAttentionPooling,
    SelfAttentionPooling,
    TransformerAttentionPooling,
    build_pooling,
)
from modeling_avemo.backbones_avemo import AlexNetFeatures
from modeling_avemo.fusion_avemo import ConcatFusion, FactorizedBilinearPooling

# METHOD.md section 2 and the README ("Audio", "Choices where the papers are silent"): the numbers, pinned.
SAMPLING_RATE = 16000
WIN_LENGTH = 640  # 40 ms Hamming window at 16 kHz
HOP_LENGTH = 160  # 10 ms shift
N_FFT = 1024
N_MELS = 128  # Slaney mel bands
F_MIN, F_MAX = 0.0, 8000.0
DELTA_WIDTH = 5  # delta and delta-delta over 5 frames
LOG_FLOOR = 1e-10  # 10 log10(max(power, 1e-10)): -100 dB
MIN_FRAMES = 63  # AlexNet's receptive field (0.63 s)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def masked_softmax_np(scores, mask):
    """softmax over the entries where mask is True; zero elsewhere."""
    out = np.zeros_like(scores)
    real = scores[mask]
    exp = np.exp(real - real.max())
    out[mask] = exp / exp.sum()
    return out


def entropy(weights):
    p = weights[weights > 0]
    return float(-(p * np.log(p)).sum())


def set_linear(layer, weight, bias=None):
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=layer.weight.dtype))
        if bias is not None:
            layer.bias.copy_(torch.as_tensor(bias, dtype=layer.bias.dtype))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# Three clips of up to five vectors: 3 real + 2 padded, all 5 real, 1 real + 4 padded.
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)


def _features(rng, dim, mask=MASK):
    features = rng.normal(size=(*mask.shape, dim))
    features[~mask] = 50.0  # padded entries hold garbage that must never be read
    return features


def _check_weights_over_real_entries(weights, mask=MASK):
    """Masked entries get exactly zero weight; the weights of a clip sum to one over its real entries."""
    assert np.all(weights[~mask] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(weights[mask] > 0)


def _run(module, features, mask=MASK):
    module = module.double().eval()
    with torch.no_grad():
        pooled, weights = module(torch.from_numpy(features), torch.from_numpy(mask))
    return pooled.numpy(), weights.numpy()


# --------------------------------------------------------------------------------------- intra-modal attention


def test_mean_pooling_is_the_average_of_the_real_entries(rng):
    features = _features(rng, 4)
    pooled, weights = _run(MeanPooling(), features)
    for clip in range(len(MASK)):
        real = features[clip][MASK[clip]]
        np.testing.assert_allclose(pooled[clip], real.sum(0) / len(real), rtol=0, atol=1e-12)
        np.testing.assert_allclose(weights[clip][MASK[clip]], 1.0 / len(real), rtol=0, atol=1e-12)
    _check_weights_over_real_entries(weights)


def test_fan_self_attention_is_normalised_sigmoid(rng):
    """FAN: alpha_i = sigmoid(q0 . f_i + b); f' = sum alpha_i f_i / sum alpha_i (METHOD.md section 5)."""
    dim = 3
    q0, b = np.array([1.5, -2.0, 0.7]), 0.3
    module = SelfAttentionPooling(dim, dropout=0.5).double()
    set_linear(module.alpha[0], q0[None, :], [b])
    features = _features(rng, dim)
    pooled, weights = _run(module, features)
    for clip in range(len(MASK)):
        f = features[clip][MASK[clip]]
        alpha = sigmoid(f @ q0 + b)
        np.testing.assert_allclose(pooled[clip], (alpha[:, None] * f).sum(0) / alpha.sum(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(weights[clip][MASK[clip]], alpha / alpha.sum(), rtol=0, atol=1e-12)
    _check_weights_over_real_entries(weights)
    # Normalised sigmoid weights are not softmax weights of the same scores: the check above tells them apart.
    alpha = sigmoid(features[1] @ q0 + b)
    softmax = np.exp(features[1] @ q0) / np.exp(features[1] @ q0).sum()
    assert np.abs(alpha / alpha.sum() - softmax).max() > 0.05


def test_fan_self_attention_dropout_only_feeds_the_score(rng):
    """FAN's code applies dropout to f_i before the score; the pooled vector is a weighted sum of the undropped
    f_i (training mode: the weights change from draw to draw, the pooled vector is always sum w_i f_i)."""
    dim = 6
    module = SelfAttentionPooling(dim, dropout=0.5).double().train()
    with torch.no_grad():
        module.alpha[0].weight.copy_(torch.linspace(-2, 2, dim, dtype=torch.float64)[None])
    features = torch.from_numpy(_features(rng, dim))
    mask = torch.from_numpy(MASK)
    torch.manual_seed(0)
    draws = []
    with torch.no_grad():
        for _ in range(4):
            pooled, weights = module(features, mask)
            np.testing.assert_allclose(
                pooled.numpy(), np.einsum("bn,bnd->bd", weights.numpy(), features.numpy()), rtol=0, atol=1e-12
            )
            _check_weights_over_real_entries(weights.numpy())
            draws.append(weights)
    assert any(not torch.equal(draws[0], other) for other in draws[1:]), "dropout never changed the scores"


def test_fan_relation_attention(rng):
    """FAN: beta_i = sigmoid(q1 . [f_i ; f'] + b1); f = sum alpha_i beta_i [f_i ; f'] / sum alpha_i beta_i, with
    alpha and f' of the self-attention; the reported weights are alpha_i beta_i / sum (README, Choices)."""
    dim = 3
    q0, b0 = np.array([2.0, -1.5, 1.0]), -0.2
    q1, b1 = np.array([0.5, -1.0, 2.0, -0.7, 1.2, 0.4]), 0.1
    module = RelationAttentionPooling(dim, dropout=0.5).double()
    set_linear(module.alpha[0], q0[None, :], [b0])
    set_linear(module.beta[0], q1[None, :], [b1])
    features = _features(rng, dim)
    pooled, weights = _run(module, features)
    assert pooled.shape == (len(MASK), 2 * dim)
    for clip in range(len(MASK)):
        f = features[clip][MASK[clip]]
        alpha = sigmoid(f @ q0 + b0)
        f_prime = (alpha[:, None] * f).sum(0) / alpha.sum()
        relation = np.concatenate([f, np.repeat(f_prime[None], len(f), 0)], axis=1)
        beta = sigmoid(relation @ q1 + b1)
        expected = (alpha[:, None] * beta[:, None] * relation).sum(0) / (alpha * beta).sum()
        np.testing.assert_allclose(pooled[clip], expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(weights[clip][MASK[clip]], alpha * beta / (alpha * beta).sum(), rtol=0, atol=1e-12)
        if len(f) > 1:  # alpha matters: beta alone would give other weights
            assert np.abs(beta / beta.sum() - alpha * beta / (alpha * beta).sum()).max() > 1e-3
    _check_weights_over_real_entries(weights)


def _layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * gamma + beta


@pytest.mark.parametrize("heads", [1, 2])
def test_transformer_attention_as_documented(rng, heads):
    """README "Choices": g_i = W f_i (width m); one scaled dot-product self-attention layer over the real
    entries, h_i = LayerNorm(g_i + O(MHA(g))_i); pooling w = softmax(u . h_i + c) of the ORIGINAL vectors."""
    dim, m = 5, 4
    head = m // heads
    module = TransformerAttentionPooling(dim, m, heads, dropout=0.5).double()
    params = {
        "projection": (rng.normal(size=(m, dim)), rng.normal(size=m)),
        "query": (rng.normal(size=(m, m)), rng.normal(size=m)),
        "key": (rng.normal(size=(m, m)), rng.normal(size=m)),
        "value": (rng.normal(size=(m, m)), rng.normal(size=m)),
        "output": (rng.normal(size=(m, m)), rng.normal(size=m)),
        "score": (rng.normal(size=(1, m)), rng.normal(size=1)),
    }
    for name, (weight, bias) in params.items():
        set_linear(getattr(module, name), weight, bias)
    gamma, beta = rng.uniform(0.5, 1.5, m), rng.normal(size=m)
    set_linear(module.layer_norm, gamma, beta)
    features = _features(rng, dim)
    pooled, weights = _run(module, features)
    with torch.no_grad():  # the same call, asked for its attention maps (batch, heads, n, n)
        maps = module(torch.from_numpy(features), torch.from_numpy(MASK), output_attentions=True)[2].numpy()
    linear = lambda x, name: x @ params[name][0].T + params[name][1]
    for clip in range(len(MASK)):
        f = features[clip][MASK[clip]]  # padded entries are neither queries that count nor keys
        g = linear(f, "projection")
        q, k, v = linear(g, "query"), linear(g, "key"), linear(g, "value")
        context = np.zeros_like(g)
        for h in range(heads):
            part = slice(h * head, (h + 1) * head)
            scores = q[:, part] @ k[:, part].T / math.sqrt(head)
            probabilities = np.exp(scores - scores.max(1, keepdims=True))
            probabilities /= probabilities.sum(1, keepdims=True)
            context[:, part] = probabilities @ v[:, part]
            real = MASK[clip]
            np.testing.assert_allclose(maps[clip, h][np.ix_(real, real)], probabilities, rtol=0, atol=1e-10)
            assert np.all(maps[clip, h][:, ~real] == 0)
        hidden = _layer_norm(g + linear(context, "output"), gamma, beta)
        u = linear(hidden, "score")[:, 0]
        w = np.exp(u - u.max()) / np.exp(u - u.max()).sum()
        np.testing.assert_allclose(weights[clip][MASK[clip]], w, rtol=0, atol=1e-10)
        np.testing.assert_allclose(pooled[clip], (w[:, None] * f).sum(0), rtol=0, atol=1e-10)
    assert pooled.shape == (len(MASK), dim)  # the output keeps the input width
    _check_weights_over_real_entries(weights)


def _fcn_module(rng, dim, hidden, lam):
    module = FCNAttentionPooling(dim, hidden, lam).double()
    weight, bias, u = rng.normal(size=(hidden, dim)), rng.normal(size=hidden), rng.normal(size=(1, hidden)) * 3
    set_linear(module.hidden, weight, bias)
    set_linear(module.context, u)
    return module, weight, bias, u[0]


@pytest.mark.parametrize("lam", [0.3, 2.0])
def test_fcn_audio_attention_with_lambda(rng, lam):
    """FCN-SER: e_l = u . tanh(W a_l + b); alpha = softmax(lambda e) over the real cells; c = sum alpha_l a_l."""
    dim, hidden = 4, 3
    module, weight, bias, u = _fcn_module(rng, dim, hidden, lam)
    features = _features(rng, dim)
    pooled, weights = _run(module, features)
    for clip in range(len(MASK)):
        a = features[clip][MASK[clip]]
        e = np.tanh(a @ weight.T + bias) @ u
        alpha = np.exp(lam * e - (lam * e).max())
        alpha /= alpha.sum()
        np.testing.assert_allclose(weights[clip][MASK[clip]], alpha, rtol=0, atol=1e-12)
        np.testing.assert_allclose(pooled[clip], (alpha[:, None] * a).sum(0), rtol=0, atol=1e-12)
    _check_weights_over_real_entries(weights)


def test_fcn_lambda_comes_from_the_config_and_sharpens_the_weights(rng):
    """lambda controls how peaked the weights are: a larger lambda gives lower entropy (METHOD.md section 5).
    The model's pooling takes it from `audio_attention_lambda` (default 0.3)."""
    assert AVEmoConfig().audio_attention_lambda == 0.3
    dim, hidden = 4, 3
    features = rng.normal(size=(1, 40, dim))
    mask = np.ones((1, 40), dtype=bool)
    _, weight, bias, u = _fcn_module(np.random.default_rng(7), dim, hidden, 1.0)
    entropies = []
    for lam in (0.1, 0.3, 1.0, 3.0):
        config = AVEmoConfig(audio_attention="fcn", audio_attention_lambda=lam, audio_attention_hidden_size=hidden)
        module = build_pooling("fcn", dim, config).double()
        set_linear(module.hidden, weight, bias)
        set_linear(module.context, u[None, :])
        _, weights = _run(module, features, mask)
        e = np.tanh(features[0] @ weight.T + bias) @ u
        np.testing.assert_allclose(weights[0], np.exp(lam * e) / np.exp(lam * e).sum(), rtol=1e-10, atol=0)
        entropies.append(entropy(weights[0]))
    assert all(later < earlier for earlier, later in zip(entropies, entropies[1:])), entropies
    assert entropies[0] < math.log(40) and entropies[-1] < entropies[0] - 0.5


def test_every_pooling_gives_zero_weight_and_zero_vector_without_real_entries(rng):
    config = AVEmoConfig(transformer_attention_size=4, transformer_attention_heads=2, audio_attention_hidden_size=3)
    mask = np.zeros((2, 3), dtype=bool)
    mask[0] = True
    features = _features(rng, 4, mask)
    for kind in ("mean", "self", "relation", "transformer", "fcn"):
        pooled, weights = _run(build_pooling(kind, 4, config), features, mask)
        assert np.all(weights[1] == 0) and np.all(pooled[1] == 0), kind
        assert np.isfinite(pooled).all(), kind
        np.testing.assert_allclose(weights[0].sum(), 1.0, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------- cross-modal fusion


def test_factorized_bilinear_pooling_mfb_form(rng):
    """MFB: a~ = U a + b_U, v~ = V v + b_V (k*o wide); z = a~ * v~; sum-pool consecutive groups of k -> o values;
    z <- sign(z) sqrt(|z|); z <- z / ||z||_2 (METHOD.md section 6)."""
    audio_size, visual_size, k, o = 3, 4, 3, 5
    module = FactorizedBilinearPooling(audio_size, visual_size, k, o, dropout=0.1).double()
    U, bU = rng.normal(size=(k * o, audio_size)), rng.normal(size=k * o)
    V, bV = rng.normal(size=(k * o, visual_size)), rng.normal(size=k * o)
    set_linear(module.proj_audio, U, bU)
    set_linear(module.proj_visual, V, bV)
    module = module.double().eval()
    a, v = rng.normal(size=(6, audio_size)), rng.normal(size=(6, visual_size))
    with torch.no_grad():
        out = module(torch.from_numpy(a), torch.from_numpy(v)).numpy()
    for row in range(len(a)):
        z = (U @ a[row] + bU) * (V @ v[row] + bV)
        pooled = np.array([z[j * k : (j + 1) * k].sum() for j in range(o)])
        powered = np.sign(pooled) * np.sqrt(np.abs(pooled))
        expected = powered / np.linalg.norm(powered)
        np.testing.assert_allclose(out[row], expected, rtol=0, atol=1e-12)
        # The normalisations change the vector (the comparison tells their absence apart).
        assert np.abs(pooled / np.linalg.norm(pooled) - expected).max() > 1e-3
        assert abs(np.linalg.norm(powered) - 1) > 1e-3
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=0, atol=1e-12)
    # Dropout sits before the normalisations: the output keeps unit L2 norm in training mode too.
    with torch.no_grad():
        train_out = module.train()(torch.from_numpy(a), torch.from_numpy(v)).numpy()
    np.testing.assert_allclose(np.linalg.norm(train_out, axis=1), 1.0, rtol=0, atol=1e-12)


def test_concat_fusion_and_the_classifier_in_the_model():
    """Concatenation of the audio and visual vectors, then dropout + linear classifier: logits = W [a ; v] + b."""
    torch.manual_seed(0)
    config = AVEmoConfig(
        fusion="concat",
        visual_attention="mean",
        audio_attention="mean",
        face_stage_depths=[1, 1, 1, 1],
        face_stage_widths=[4, 4, 8, 8],
        face_embedding_size=6,
        audio_channels=[4, 4, 4, 4, 5],
        num_mel_bins=64,
    )
    model = AVEmoForVideoClassification(config).double().eval()
    inputs = {
        "pixel_values": torch.randn(2, 3, 3, 112, 112, dtype=torch.float64),
        "input_features": torch.randn(2, 3, 64, 80, dtype=torch.float64),
    }
    with torch.no_grad():
        base = model.avemo(**inputs)
        logits = model(**inputs).logits
    a, v = base.audio_embeds.numpy(), base.visual_embeds.numpy()
    assert a.shape == (2, 5) and v.shape == (2, 6)
    np.testing.assert_array_equal(base.fused_embeds.numpy(), np.concatenate([a, v], axis=1))
    np.testing.assert_array_equal(
        ConcatFusion()(base.audio_embeds, base.visual_embeds).numpy(), np.concatenate([a, v], axis=1)
    )
    W, b = model.classifier.weight.detach().numpy(), model.classifier.bias.detach().numpy()
    np.testing.assert_allclose(logits.numpy(), np.concatenate([a, v], axis=1) @ W.T + b, rtol=0, atol=1e-12)


def test_fbp_in_the_model_fuses_the_pooled_vectors():
    torch.manual_seed(0)
    config = AVEmoConfig(
        visual_attention="mean",
        audio_attention="mean",
        face_stage_depths=[1, 1, 1, 1],
        face_stage_widths=[4, 4, 8, 8],
        face_embedding_size=6,
        audio_channels=[4, 4, 4, 4, 5],
        num_mel_bins=64,
        fbp_k=3,
        fbp_o=7,
    )
    model = AVEmoForVideoClassification(config).double().eval()
    with torch.no_grad():
        base = model.avemo(
            pixel_values=torch.randn(2, 3, 3, 112, 112, dtype=torch.float64),
            input_features=torch.randn(2, 3, 64, 80, dtype=torch.float64),
        )
    fusion = model.avemo.fusion
    U, bU = fusion.proj_audio.weight.detach().numpy(), fusion.proj_audio.bias.detach().numpy()
    V, bV = fusion.proj_visual.weight.detach().numpy(), fusion.proj_visual.bias.detach().numpy()
    z = (base.audio_embeds.numpy() @ U.T + bU) * (base.visual_embeds.numpy() @ V.T + bV)
    pooled = z.reshape(2, 7, 3).sum(-1)
    powered = np.sign(pooled) * np.sqrt(np.abs(pooled))
    np.testing.assert_allclose(
        base.fused_embeds.numpy(), powered / np.linalg.norm(powered, axis=1, keepdims=True), rtol=0, atol=1e-12
    )


# --------------------------------------------------------------------------------------- masked AlexNet


def _alexnet_by_hand(x, state):
    """torchvision alexnet().features, layer by layer with torch.nn.functional (METHOD.md section 4)."""
    conv = lambda x, i, **kw: F.relu(F.conv2d(x, state[f"features.{i}.weight"], state[f"features.{i}.bias"], **kw))
    x = F.max_pool2d(conv(x, 0, stride=4, padding=2), 3, 2)
    x = F.max_pool2d(conv(x, 3, padding=2), 3, 2)
    x = conv(conv(conv(x, 6, padding=1), 8, padding=1), 10, padding=1)
    return F.max_pool2d(x, 3, 2)


def test_masked_alexnet_equals_the_unpadded_clip():
    """A clip zero-padded in a batch gives, on its valid map columns, exactly the map of the clip alone; the
    columns past its length are zero (so padding can never leak into the attention)."""
    torch.manual_seed(0)
    network = AlexNetFeatures([4, 6, 6, 5, 5]).double().eval()
    with torch.no_grad():
        for layer in network.features:
            if isinstance(layer, torch.nn.Conv2d):
                layer.bias.uniform_(0.05, 0.5)  # positive biases: a zero input column gives a non-zero output
    state = network.state_dict()
    lengths = [97, 150, 63]
    clips = [torch.randn(1, 3, 64, length, dtype=torch.float64) for length in lengths]
    batch = torch.zeros(3, 3, 64, max(lengths), dtype=torch.float64)
    for row, clip in enumerate(clips):
        batch[row, :, :, : clip.shape[-1]] = clip[0]
    with torch.no_grad():
        feature_map, map_lengths = network(batch, torch.tensor(lengths))
        for row, clip in enumerate(clips):
            alone = _alexnet_by_hand(clip, state)[0]
            width = alone.shape[-1]
            assert int(map_lengths[row]) == width
            torch.testing.assert_close(feature_map[row, :, :, :width], alone, rtol=0, atol=1e-12)
            assert torch.all(feature_map[row, :, :, width:] == 0)
        # Without the per-layer mask the short clip's map would differ (the check is not vacuous).
        unmasked = _alexnet_by_hand(batch[:1], state)[0, :, :, : int(map_lengths[0])]
        assert (unmasked - feature_map[0, :, :, : int(map_lengths[0])]).abs().max() > 1e-3


# --------------------------------------------------------------------------------------- audio front end


def test_extractor_and_processor_defaults_are_the_pinned_numbers():
    extractor = AVEmoFeatureExtractor()
    assert WIN_LENGTH == round(0.040 * SAMPLING_RATE) and HOP_LENGTH == round(0.010 * SAMPLING_RATE)
    assert extractor.feature_type == "log_mel"
    assert extractor.sampling_rate == SAMPLING_RATE
    assert extractor.win_length == WIN_LENGTH
    assert extractor.hop_length == HOP_LENGTH
    assert extractor.n_fft == N_FFT
    assert extractor.num_mel_bins == N_MELS == extractor.feature_size
    assert (extractor.f_min, extractor.f_max) == (F_MIN, F_MAX)
    assert extractor.delta_window == DELTA_WIDTH
    assert extractor.normalize == "clip"
    assert extractor.min_frames == MIN_FRAMES
    processor = AVEmoProcessor()
    assert processor.num_frames == 8 and processor.face_size == 112
    assert AVEmoConfig().face_size == 112 and AVEmoConfig().num_mel_bins == N_MELS


def _test_waveform():
    """1.3 s at 16 kHz (not a whole number of hops): tones, a chirp to 8 kHz, noise, and 0.2 s of digital silence
    (which must come out at the -100 dB floor)."""
    rng = np.random.default_rng(0)
    t = np.arange(20837) / SAMPLING_RATE
    wave = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 3100 * t)
    wave += 0.2 * np.sin(2 * np.pi * (100 * t + 0.5 * (7900 / t[-1]) * t**2))
    wave += 0.02 * rng.standard_normal(len(t))
    wave[6000:9200] = 0.0
    return wave.astype(np.float32)


def _librosa_features(waveform):
    import librosa

    power = librosa.feature.melspectrogram(
        y=waveform,
        sr=SAMPLING_RATE,
        n_fft=N_FFT,
        hop_length=HOP_LENGTH,
        win_length=WIN_LENGTH,
        window="hamming",
        center=True,
        pad_mode="reflect",
        power=2.0,
        n_mels=N_MELS,
        fmin=F_MIN,
        fmax=F_MAX,
        htk=False,
        norm="slaney",
    )
    static = 10 * np.log10(np.maximum(power, LOG_FLOOR))
    delta = librosa.feature.delta(static, width=DELTA_WIDTH, mode="nearest")
    delta2 = librosa.feature.delta(delta, width=DELTA_WIDTH, mode="nearest")
    return np.stack([static, delta, delta2])


@pytest.fixture(scope="module")
def front_end():
    waveform = _test_waveform()
    ours = AVEmoFeatureExtractor(normalize="none")(waveform, sampling_rate=SAMPLING_RATE, return_tensors="np")[
        "input_features"
    ][0]
    return waveform, ours.astype(np.float64), _librosa_features(waveform)


def test_log_mel_and_deltas_match_librosa_with_the_pinned_settings(front_end):
    """Stated tolerance: 2e-3 dB on the log-mel (values span ~100 dB), 1e-3 on the deltas."""
    waveform, ours, reference = front_end
    assert ours.shape == reference.shape == (3, N_MELS, 1 + len(waveform) // HOP_LENGTH)
    np.testing.assert_allclose(ours[0], reference[0], rtol=0, atol=2e-3)
    np.testing.assert_allclose(ours[1:], reference[1:], rtol=0, atol=1e-3)
    # Frames wholly inside the digital silence sit at the floor, 10 log10(1e-10) = -100 dB.
    silent = slice(6000 // HOP_LENGTH + 4, 9200 // HOP_LENGTH - 3)
    np.testing.assert_allclose(ours[0, :, silent], -100.0, rtol=0, atol=1e-4)


def test_delta_is_the_five_frame_regression_slope(front_end):
    """delta_t = sum_{n=1..2} n (c_{t+n} - c_{t-n}) / (2 sum n^2), edge frames repeated; delta-delta likewise on
    the delta (written out, not librosa)."""
    _, ours, _ = front_end

    def delta(c, half=DELTA_WIDTH // 2):
        padded = np.concatenate([np.repeat(c[:, :1], half, 1), c, np.repeat(c[:, -1:], half, 1)], axis=1)
        frames = c.shape[1]
        numerator = sum(
            n * (padded[:, half + n : half + n + frames] - padded[:, half - n : half - n + frames])
            for n in range(1, half + 1)
        )
        return numerator / (2 * sum(n * n for n in range(1, half + 1)))

    np.testing.assert_allclose(ours[1], delta(ours[0]), rtol=0, atol=1e-3)
    np.testing.assert_allclose(ours[2], delta(ours[1]), rtol=0, atol=1e-3)


def test_per_clip_normalisation_of_each_plane(front_end):
    """normalize="clip" (the default): each of the three planes standardised over the clip (population std)."""
    waveform, _, reference = front_end
    normalised = AVEmoFeatureExtractor()(waveform, sampling_rate=SAMPLING_RATE, return_tensors="np")["input_features"][
        0
    ]
    expected = (reference - reference.mean((1, 2), keepdims=True)) / reference.std((1, 2), keepdims=True)
    np.testing.assert_allclose(normalised, expected, rtol=0, atol=2e-3)
    np.testing.assert_allclose(normalised.mean((1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(normalised.std((1, 2)), 1.0, atol=1e-4)
