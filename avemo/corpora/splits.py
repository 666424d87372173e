"""The generic speaker-independent split, for corpora without a split of their own."""

from __future__ import annotations

import random
import warnings
from typing import TYPE_CHECKING

from .base import SPLITS, select

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict


def speaker_level_split(dataset: Dataset, speakers: list[str], distinct: list[str], seed: int) -> DatasetDict:
    """Train, validation and test splits that keep every speaker in one of them: the sorted speakers shuffled with
    `seed`, about 80/10/10 %."""
    order = list(distinct)  # sorted first, so that the shuffle depends on the seed only
    random.Random(seed).shuffle(order)
    sizes = split_sizes(len(order))
    split_of = {}
    for split, start, stop in cuts(sizes):
        split_of.update((speaker, split) for speaker in order[start:stop])
    indices = {split: [] for split in SPLITS}
    for index, speaker in enumerate(speakers):
        indices[split_of[speaker]].append(index)
    return select(dataset, indices)


def file_level_split(dataset: Dataset, seed: int, reason: str) -> DatasetDict:
    """Train, validation and test splits of files, stratified by label, when there are too few speakers (warned about,
    with `reason`); with fewer than 3 files every split holds all of them."""
    count = len(dataset)
    message = f"speaker_split: {reason}; the split is file-level, stratified by label, and not speaker-independent"
    # stacklevel 3: the warnings point at the caller of speaker_split.
    if count < 3:
        warnings.warn(f"{message}; with {count} file(s) every split holds all of them", stacklevel=3)
        everything = list(range(count))
        return select(dataset, {split: everything for split in SPLITS})
    warnings.warn(message, stacklevel=3)
    rng = random.Random(seed)
    by_label: dict[int, list[int]] = {}
    for index, label in enumerate(list(dataset["label"])):
        by_label.setdefault(label, []).append(index)
    # Spread each shuffled class evenly over [0, 1) and cut the merged order: every split then gets its share of
    # each class (stratified) while the cut sizes below guarantee at least one file per split.
    ranked = []
    for label in sorted(by_label):
        members = by_label[label]
        rng.shuffle(members)
        ranked.extend(((position + 0.5) / len(members), label, index) for position, index in enumerate(members))
    order = [index for *_, index in sorted(ranked)]
    return select(dataset, {split: order[start:stop] for split, start, stop in cuts(split_sizes(count))})


def split_sizes(count: int) -> tuple[int, int, int]:
    """About 80/10/10 % of count, at least one each (count >= 3)."""
    held_out = max(1, round(count * 0.1))
    return count - 2 * held_out, held_out, held_out


def cuts(sizes: tuple[int, int, int]) -> list[tuple[str, int, int]]:
    """(split, start, stop) of each split in an ordered list, from the split sizes."""
    bounds, start = [], 0
    for split, size in zip(SPLITS, sizes):
        bounds.append((split, start, start + size))
        start += size
    return bounds
