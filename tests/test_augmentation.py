"""Training augmentation (avemo/augmentation.py, used by the training collator): each transform against an
independent statement of what it must do, the collator in training and in evaluation, and the command line."""

import contextlib
import io
from dataclasses import replace

import numpy as np
import pytest
import torch

from avemo.data.augmentation import (
    AugmentConfig,
    FaceTransform,
    augment_faces,
    augment_waveform,
    draw_face_transform,
    feature_mask,
    mask_features,
    roll_waveform,
)
from avemo.cli import build_parser, main
from avemo.cli.train import augmentation_from_args
from avemo.data.collator import AVEmoCollator
from avemo.processing.processing_avemo import segment_centres
from avemo.model_folders.configs import default_processor
from modeling_avemo import AVEmoConfig

SIZE = 112  # the default (ArcFace) face crop


@pytest.fixture(scope="module")
def processor():
    return default_processor(AVEmoConfig())


def _crops(frames=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (frames, SIZE, SIZE, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------------------------------ faces


def test_flip_reverses_each_frame_along_its_width():
    crops = _crops()
    flipped = FaceTransform(flip=True).apply(crops)
    assert flipped.dtype == np.uint8 and flipped.shape == crops.shape
    for frame in range(len(crops)):
        for column in range(SIZE):
            assert np.array_equal(flipped[frame, :, column], crops[frame, :, SIZE - 1 - column])


@pytest.mark.parametrize("dy, dx", [(3, 0), (0, -5), (-2, 4), (6, 6), (-6, -1)])
def test_shift_moves_every_pixel_by_exactly_dy_dx_and_fills_with_black(dy, dx):
    crops = _crops(2, seed=1)
    shifted = FaceTransform(shift_y=dy, shift_x=dx).apply(crops)
    for y in range(SIZE):
        for x in range(SIZE):
            source_y, source_x = y - dy, x - dx
            if 0 <= source_y < SIZE and 0 <= source_x < SIZE:
                assert np.array_equal(shifted[:, y, x], crops[:, source_y, source_x]), (y, x)
            else:
                assert not shifted[:, y, x].any(), (y, x)


def _jitter_reference(crops, brightness, contrast, saturation):
    """torchvision's ColorJitter formulas in a fixed order, in float64 NumPy, one frame at a time: brightness scales,
    contrast blends with the frame's mean gray level, saturation with each pixel's gray level (gray = 0.2989 R +
    0.587 G + 0.114 B), each result clipped to 0-255; rounded to uint8 at the end."""
    out = []
    for frame in crops.astype(np.float64):
        frame = np.clip(frame * brightness, 0, 255)
        gray = frame @ np.array([0.2989, 0.587, 0.114])
        frame = np.clip(contrast * frame + (1 - contrast) * gray.mean(), 0, 255)
        gray = frame @ np.array([0.2989, 0.587, 0.114])
        frame = np.clip(saturation * frame + (1 - saturation) * gray[..., None], 0, 255)
        out.append(np.round(frame))
    return np.stack(out)


@pytest.mark.parametrize("factors", [(1.2, 1.0, 1.0), (1.0, 0.8, 1.0), (1.0, 1.0, 0.8), (0.85, 1.15, 1.2)])
def test_colour_jitter_follows_torchvision_formulas(factors):
    crops = _crops(2, seed=2)
    crops[1] //= 3  # a darker frame: its own mean gray level differs from the clip's
    jittered = FaceTransform(brightness=factors[0], contrast=factors[1], saturation=factors[2]).apply(crops)
    expected = _jitter_reference(crops, *factors)
    difference = np.abs(jittered.astype(np.float64) - expected)
    # float32 against float64: a value that lands on .5 may round the other way, never further.
    assert difference.max() <= 1 and (difference > 0).mean() < 0.01
    assert not np.array_equal(jittered, crops)


def test_identity_transform_and_switched_off_config_leave_faces_bit_identical():
    crops = _crops()
    assert np.array_equal(FaceTransform().apply(crops), crops)
    assert np.array_equal(augment_faces(crops, AugmentConfig.none()), crops)
    torch.manual_seed(0)
    assert np.array_equal(augment_faces(crops, replace(AugmentConfig.none(), random_frames=True)), crops)


def test_draws_stay_in_their_ranges_and_use_them():
    config = AugmentConfig()
    generator = torch.Generator().manual_seed(0)
    draws = [draw_face_transform(config, SIZE, generator) for _ in range(1000)]
    most = round(0.05 * SIZE)  # 6 pixels
    shifts = {d.shift_y for d in draws} | {d.shift_x for d in draws}
    assert shifts == set(range(-most, most + 1))
    for name in ("brightness", "contrast", "saturation"):
        values = np.array([getattr(d, name) for d in draws])
        assert values.min() >= 0.8 and values.max() <= 1.2 and values.min() < 0.81 and values.max() > 1.19
    assert 0.45 < np.mean([d.flip for d in draws]) < 0.55
    never = replace(AugmentConfig(), horizontal_flip=0.0, face_shift=0.0)
    assert not any(
        d.flip or d.shift_x or d.shift_y for d in (draw_face_transform(never, SIZE, generator) for _ in range(200))
    )


def test_one_transform_for_all_frames_of_a_clip():
    """A clip of one image repeated stays a clip of one image: flips, shifts and colours are drawn per clip."""
    clip = np.repeat(_crops(1, seed=3), 5, axis=0)
    torch.manual_seed(0)
    changed = 0
    for _ in range(20):
        augmented = augment_faces(clip, AugmentConfig())
        assert all(np.array_equal(augmented[0], frame) for frame in augmented[1:])
        changed += not np.array_equal(augmented, clip)
    assert changed == 20


# ------------------------------------------------------------------------------------------------------ audio


@pytest.mark.parametrize("samples", [1, 1600, -3200, 0])
def test_roll_moves_the_waveform_and_wraps_what_falls_off(samples):
    waveform = np.random.default_rng(4).standard_normal(16000).astype(np.float32)
    rolled = roll_waveform(waveform, samples)
    if samples >= 0:
        expected = np.concatenate([waveform[len(waveform) - samples :], waveform[: len(waveform) - samples]])
    else:
        expected = np.concatenate([waveform[-samples:], waveform[:-samples]])
    assert np.array_equal(rolled, expected) and len(rolled) == len(waveform)


def test_time_shift_stays_within_its_range():
    waveform = np.arange(16000, dtype=np.float32)  # a sample's value is its index: the shift can be read off
    config = replace(AugmentConfig.none(), time_shift_seconds=0.2)
    generator = torch.Generator().manual_seed(0)
    shifts = set()
    for _ in range(300):
        rolled = augment_waveform(waveform, config, 16000, generator)
        shift = int(rolled[0]) and len(waveform) - int(rolled[0])  # rolled[0] was sample -shift
        shift = shift - len(waveform) if shift > len(waveform) // 2 else shift
        assert np.array_equal(np.sort(rolled), waveform)  # nothing lost, nothing added
        assert np.array_equal(rolled, roll_waveform(waveform, shift))
        shifts.add(shift)
    assert min(shifts) >= -3200 and max(shifts) <= 3200 and min(shifts) < -2500 and max(shifts) > 2500
    assert augment_waveform(np.zeros(0, np.float32), config, 16000).size == 0


def _runs(flags):
    """(start, width) of each run of True in a 1-D boolean array."""
    runs, start = [], None
    for index, value in enumerate(list(flags) + [False]):
        if value and start is None:
            start = index
        elif not value and start is not None:
            runs.append((start, index - start))
            start = None
    return runs


def _features(processor, seconds=(2.0, 0.9, 0.0), seed=5):
    rng = np.random.default_rng(seed)
    waveforms = [(0.1 * rng.standard_normal(int(s * 16000))).astype(np.float32) for s in seconds]
    batch = processor.audio_tensors(waveforms)
    return batch["input_features"], batch["audio_mask"]


def test_masks_replace_whole_bands_of_real_frames_only(processor):
    """Every value that changes lies in a masked band: a time band is every row of some real frames, a frequency
    band is some rows over every real frame; masked values become the plane's mean over the real frames (0 after
    the per-clip normalisation); padded frames and the clip without audio are untouched; bands are no wider and
    no more numerous than configured."""
    features, audio_mask = _features(processor)
    lengths = audio_mask.sum(-1).tolist()
    assert lengths == [201, 91, 0] and features.shape[-1] == 201
    config = replace(AugmentConfig.none(), time_masks=2, time_mask_frames=20, freq_masks=2, freq_mask_bins=12)
    torch.manual_seed(0)
    time_widths, freq_widths = [], []
    for _ in range(30):
        masked = mask_features(features, audio_mask, config)
        assert torch.equal(masked[2], features[2])  # no audio: nothing to mask
        for row, length in enumerate(lengths[:2]):
            original, result = features[row], masked[row]
            assert torch.equal(result[..., length:], original[..., length:])  # padding untouched
            changed = (result != original)[..., :length]  # (planes, bins, frames)
            columns = changed.all(0).all(0)  # frames masked in every plane and row: time bands
            rows = changed[..., ~columns].all(0).all(-1) if (~columns).any() else changed.all(0).all(-1)
            band = columns[None, :] | rows[:, None]  # (bins, frames)
            assert torch.equal(changed, band.expand_as(changed))  # whole bands, the same on all three planes
            mean = original[..., :length].mean(dim=(1, 2))
            assert mean.abs().max() < 1e-5
            for plane in range(3):
                assert torch.all(result[plane, :, :length][band] == mean[plane])
            time_runs, freq_runs = _runs(columns.tolist()), _runs(rows.tolist())
            assert len(time_runs) <= 2 and len(freq_runs) <= 2
            assert all(width <= 40 for _, width in time_runs) and all(width <= 24 for _, width in freq_runs)
            time_widths += [width for _, width in time_runs]
            freq_widths += [width for _, width in freq_runs]
    assert max(time_widths) > 5 and max(freq_widths) > 5  # masking did happen


def test_each_mask_is_at_most_its_width_and_share():
    """One band at a time: no wider than time_mask_frames / freq_mask_bins, a time band also under
    time_mask_max_share of the frames, and every width from 0 to the largest drawn."""
    torch.manual_seed(1)
    one_time = replace(AugmentConfig.none(), time_masks=1, time_mask_frames=20, time_mask_max_share=1.0)
    widths = [_runs(feature_mask(one_time, 128, 200)[0].tolist()) for _ in range(400)]
    drawn = {run[0][1] if run else 0 for run in widths}
    assert drawn == set(range(21))
    short = replace(one_time, time_mask_max_share=0.1)  # 60 frames: under 6
    assert max(sum(w for _, w in _runs(feature_mask(short, 128, 60)[0].tolist())) for _ in range(400)) == 5
    one_freq = replace(AugmentConfig.none(), freq_masks=1, freq_mask_bins=12)
    bands = [feature_mask(one_freq, 128, 50) for _ in range(400)]
    assert all(torch.equal(band, band[:, :1].expand_as(band)) for band in bands)  # rows over every frame
    assert {sum(w for _, w in _runs(band[:, 0].tolist())) for band in bands} == set(range(13))


# --------------------------------------------------------------------------------------------------- collator


def _rows(count=3, faces=6, seconds=(2.0, 1.0, 0.0)):
    """Clips whose face i is filled with the value 10 * i + clip, so the frames a batch holds can be read off."""
    rng = np.random.default_rng(0)
    rows = []
    for clip in range(count):
        frames = faces if clip else 2
        crops = np.stack([np.full((SIZE, SIZE, 3), 10 * i + clip, np.uint8) for i in range(frames)])
        crops[:, : SIZE // 2, : SIZE // 3] = rng.integers(0, 256, (frames, SIZE // 2, SIZE // 3, 3), dtype=np.uint8)
        rows.append(
            {
                "faces": crops,
                "waveform": (0.1 * rng.standard_normal(int(seconds[clip] * 16000))).astype(np.float32),
                "label": clip,
            }
        )
    return rows


STRONG = AugmentConfig(horizontal_flip=1.0, face_shift=0.1, brightness=0.5, time_masks=3, freq_masks=3)


def test_evaluation_collator_never_augments(processor):
    rows = _rows()
    evaluation = AVEmoCollator(processor, train=False, frames=4, augment=STRONG)
    torch.manual_seed(0)
    first = evaluation(rows)
    torch.manual_seed(1)
    second = evaluation(rows)
    plain = AVEmoCollator(processor, train=False, frames=4, augment=AugmentConfig.none())(rows)
    for key in ("pixel_values", "frame_mask", "input_features", "audio_mask", "labels"):
        assert torch.equal(first[key], second[key]) and torch.equal(first[key], plain[key]), key
    # ... and it is the processor's output for the evenly spaced faces and the whole waveforms.
    faces = processor.face_tensors([row["faces"][segment_centres(len(row["faces"]), 4)] for row in rows])
    audio = processor.audio_tensors([row["waveform"] for row in rows])
    assert torch.equal(first["pixel_values"], faces["pixel_values"]) and torch.equal(
        first["input_features"], audio["input_features"]
    )


def test_training_collator_augments_but_keeps_labels_and_masks(processor):
    rows = _rows()
    training = AVEmoCollator(processor, train=True, frames=4)  # the default augmentation
    evaluation = AVEmoCollator(processor, train=False, frames=4)(rows)
    batches = {}
    for seed in (0, 1, 0):
        torch.manual_seed(seed)
        batch = training(rows)
        if seed in batches:  # the same seed draws the same batch
            assert all(torch.equal(batch[key], batches[seed][key]) for key in batch)
        batches[seed] = batch
    a, b = batches[0], batches[1]
    assert not torch.equal(a["pixel_values"], b["pixel_values"])
    assert not torch.equal(a["input_features"][:2], b["input_features"][:2])
    for batch in (a, b):
        for key in ("frame_mask", "audio_mask", "labels"):
            assert torch.equal(batch[key], evaluation[key]), key
        assert not torch.equal(batch["pixel_values"], evaluation["pixel_values"])
        assert not torch.equal(batch["input_features"], evaluation["input_features"])
        assert torch.equal(batch["input_features"][2], evaluation["input_features"][2])  # no audio stays none
    # One draw per clip: a clip of one face repeated is still one face repeated after augmentation.
    same = [{"faces": np.repeat(_crops(1, seed=6), 6, axis=0), "waveform": rows[1]["waveform"], "label": 0}]
    plain = AVEmoCollator(processor, train=False, frames=4)(same)["pixel_values"][0]
    for seed in range(5):
        torch.manual_seed(seed)
        pixels = training(same)["pixel_values"][0]
        assert all(torch.equal(pixels[0], frame) for frame in pixels[1:]), "frames of one clip augmented differently"
        assert not torch.equal(pixels, plain)


def test_switched_off_training_collator_equals_the_plain_inputs(processor):
    rows = _rows()
    evaluation = AVEmoCollator(processor, train=False, frames=4)(rows)
    torch.manual_seed(0)
    off = AVEmoCollator(processor, train=True, frames=4, augment=AugmentConfig.none())(rows)
    assert all(torch.equal(off[key], evaluation[key]) for key in evaluation)
    # Random frames alone: whatever subset was drawn, the batch is the processor's output for that subset.
    only_frames = AVEmoCollator(
        processor, train=True, frames=4, augment=replace(AugmentConfig.none(), random_frames=True)
    )
    subsets = set()
    for seed in range(5):
        torch.manual_seed(seed)
        batch = only_frames(rows)
        # Face i of clip c is 10 * i + c in its right part, which normalisation maps to (v / 255 - 0.5) / 0.5.
        values = ((batch["pixel_values"][:, :, 0, -1, -1] * 0.5 + 0.5) * 255).round().long()
        picked = [sorted(set(((values[c, : int(batch["frame_mask"][c].sum())] - c) // 10).tolist())) for c in range(3)]
        assert picked[0] == [0, 1] and all(len(p) == 4 for p in picked[1:])
        subsets.add(tuple(picked[1]))
        expected = processor.face_tensors([row["faces"][p] for row, p in zip(rows, picked)])
        assert torch.equal(batch["pixel_values"], expected["pixel_values"])
        assert torch.equal(batch["input_features"], evaluation["input_features"])
    assert len(subsets) > 1


# --------------------------------------------------------------------------------------------- command line


def _parsed(*options):
    return build_parser().parse_args(["train", "--data-dir", "d", "--corpus", "ravdess", "--output-dir", "o", *options])


def test_command_line_options():
    assert augmentation_from_args(_parsed()) == AugmentConfig()
    assert augmentation_from_args(_parsed("--no-augment")) == AugmentConfig.none()
    assert AugmentConfig.none().is_off and not AugmentConfig().is_off
    # A mask count alone switches masking back on: the widths keep their defaults.
    assert augmentation_from_args(_parsed("--no-augment", "--time-masks", "2")).masks_features
    assert augmentation_from_args(_parsed("--no-augment", "--horizontal-flip", "0.5", "--random-frames")) == replace(
        AugmentConfig.none(), horizontal_flip=0.5, random_frames=True
    )
    assert augmentation_from_args(
        _parsed("--time-masks", "3", "--freq-mask-bins", "20", "--no-random-frames")
    ) == replace(AugmentConfig(), time_masks=3, freq_mask_bins=20, random_frames=False)
    help_text = io.StringIO()
    with contextlib.redirect_stdout(help_text), pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(help_text.getvalue().split())
    assert "--no-augment" in text and "does not publish its augmentation" in text
    for flag, default in (
        ("--horizontal-flip X", 0.5),
        ("--face-shift X", 0.05),
        ("--time-mask-frames N", 20),
        ("--freq-masks N", 2),
    ):
        own_help = text.rsplit(flag, 1)[1].split(" --", 1)[0]  # from the option to the next one
        assert own_help.endswith(f"(default: {default})"), (flag, own_help)


def test_bad_augmentation_values_are_refused_in_one_line(capsys):
    with pytest.raises(ValueError, match="face_shift"):
        AugmentConfig(face_shift=0.7)
    with pytest.raises(ValueError, match="time_masks"):
        AugmentConfig(time_masks=-1)
    code = main(["train", "--data-dir", "d", "--corpus", "ravdess", "--output-dir", "o", "--horizontal-flip", "1.5"])
    error = capsys.readouterr().err
    assert code == 1 and "horizontal_flip=1.5 is not valid" in error and "Traceback" not in error
