"""Padding of per-clip model inputs along their time axis (face frames, spectrogram frames), shared by
`AVEmoProcessor.pad` and `AVEmoFeatureExtractor.pad` so that both batch clips exactly as `__call__` does."""

import numpy as np

# The rank of one clip's input, and for the padded inputs the axis along which clips differ in length.
CLIP_RANKS = {"pixel_values": 4, "frame_mask": 1, "input_features": 3, "audio_mask": 1}
TIME_AXES = {"pixel_values": 0, "input_features": 2}


def clip_inputs(features, keys=tuple(CLIP_RANKS)) -> list[dict]:
    """The inputs named in `keys` of each feature (a mapping of lists, NumPy arrays or tensors) as tensors of one
    clip's rank, a leading batch axis of 1 dropped (as `processor(videos=path)` returns it). Raises a ValueError
    naming the feature whose input has another shape."""
    import torch

    rows = []
    for index, feature in enumerate(features):
        row = {}
        for key in keys:
            if feature.get(key) is None:
                continue
            rank = CLIP_RANKS[key]
            value = feature[key]
            value = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
            if value.dim() == rank + 1 and value.shape[0] == 1:
                value = value[0]
            if value.dim() != rank:
                raise ValueError(
                    f"feature {index}: {key} has shape {tuple(value.shape)}; expected one clip's, of rank {rank}"
                )
            row[key] = value
        rows.append(row)
    return rows


def pad_clips(rows: list[dict], values_key: str, mask_key: str, length: int):
    """Returns (values, mask): `values_key` of every row zero-padded, or cut, to `length` along its time axis and
    stacked as float32, and a long mask that is 1 on each row's real entries (its `mask_key`, else all of it) and 0
    on the padding. Raises a ValueError when some rows lack the input."""
    import torch

    if any(values_key not in row for row in rows):
        raise ValueError(f"{values_key} is missing from some features: give every clip the same inputs")
    axis = TIME_AXES[values_key]
    shape = list(rows[0][values_key].shape)
    shape[axis] = length
    values = torch.zeros(len(rows), *shape, dtype=torch.float32)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for index, row in enumerate(rows):
        kept = min(row[values_key].shape[axis], length)
        values[index].narrow(axis, 0, kept).copy_(row[values_key].narrow(axis, 0, kept).float())
        mask[index, :kept] = row[mask_key][:kept].long() if mask_key in row else 1
    return values, mask
