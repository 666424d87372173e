"""AFEW (Dhall et al.; the EmotiW challenge's Acted Facial Expressions in the Wild): movie clips in class folders."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from .base import Corpus, CorpusError, Row, listing, media_files, register_corpus, select

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

# A copy, so that reading corpus names (the CLI does at start) does not import the model package and torch.
# Copied from modeling_avemo.configuration_avemo.AFEW_LABELS
AFEW_LABELS = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")

AFEW_SPLIT_FOLDERS = {"train": "train", "val": "validation", "validation": "validation"}


def read_afew(root: Path) -> tuple[list[Row], str]:
    """AFEW as EmotiW distributes it: one folder per class, directly under root or under Train/Val folders.

        root/                          or   root/
            Angry/000046280.avi                 Train/Angry/000046280.avi
            ...                                 Val/Happy/000149120.avi
            Surprise/...

    Folder names are matched without regard to case (Val or Validation). The label is the class folder; AFEW has no
    speaker ids, and the split is the Train/Val folder ("" without them). Files outside a class folder, and a folder
    that mixes both layouts, are errors.
    """
    class_names = {label.lower(): label for label in AFEW_LABELS}
    rows, misplaced, layouts = [], [], set()
    for path in media_files(root):
        folders = [part.lower() for part in path.relative_to(root).parts[:-1]]
        split = ""
        if folders and folders[0] in AFEW_SPLIT_FOLDERS:
            split, folders = AFEW_SPLIT_FOLDERS[folders[0]], folders[1:]
        if not folders or folders[0] not in class_names:
            misplaced.append(path)
            continue
        layouts.add(bool(split))
        rows.append((str(path), class_names[folders[0]], "", split))
    expected = f"one folder per class ({' '.join(AFEW_LABELS)}), directly under {root} or under Train/Val folders"
    if misplaced:
        raise CorpusError(
            f"AFEW files outside a class folder under {root} (expected {expected}):\n{listing(root, misplaced)}"
        )
    if not rows:
        raise CorpusError(f"no AFEW media files found under {root} (expected {expected})")
    if len(layouts) > 1:
        raise CorpusError(f"{root} mixes class folders with Train/Val split folders; expected {expected}, not both")
    counts = Counter(split for *_, split in rows)
    per_split = ", ".join(f"{count} {split}" for split, count in sorted(counts.items()) if split)
    return rows, f"AFEW from {root}: {len(rows)} files" + (f" ({per_split})" if per_split else "")


def split_afew(dataset: Dataset, speakers: list[str]) -> DatasetDict | None:
    """The folder split: Train rows train; Val rows are both validation and test, because the labels of AFEW's own
    test set are not public. Without folder splits: None (the generic split)."""
    if "split" not in dataset.column_names or not any(list(dataset["split"])):
        return None
    splits = list(dataset["split"])
    if "" in splits:
        raise CorpusError("AFEW rows mix folder splits with rows that have none; expected every row in Train/Val")
    train = [index for index, split in enumerate(splits) if split == "train"]
    validation = [index for index, split in enumerate(splits) if split == "validation"]
    for split, rows in (("train", train), ("validation", validation)):
        if not rows:
            # stacklevel 3: the warning points at the caller of speaker_split.
            warnings.warn(f"AFEW {split} split is empty: the corpus folder has no {split} files", stacklevel=3)
    return select(dataset, {"train": train, "validation": validation, "test": validation})


AFEW = register_corpus(Corpus("afew", "AFEW 8.0", read_afew, AFEW_LABELS, split=split_afew))
