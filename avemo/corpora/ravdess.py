"""RAVDESS (Livingstone and Russo, 2018): 24 actors, 8 emotions, speech and song."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from .base import MAX_LISTED, Corpus, CorpusError, Row, media_files, raise_unparsed, register_corpus, select

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

# Label names in class-index order; the order is part of the contract (saved models store indices).
RAVDESS_LABELS = ("Neutral", "Calm", "Happy", "Sad", "Angry", "Fearful", "Disgust", "Surprised")

RAVDESS_PATTERN = re.compile(r"(0[1-3])-(\d\d)-(0[1-8])-(\d\d)-(\d\d)-(\d\d)-(0[1-9]|1\d|2[0-4])")
RAVDESS_HINT = (
    "RAVDESS names are seven 2-digit fields Modality-VocalChannel-Emotion-Intensity-Statement-Repetition-Actor, "
    "modality 01-03, emotion 01-08, actor 01-24 (e.g. 01-01-03-01-01-01-01.mp4)"
)
RAVDESS_MODALITIES = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
RAVDESS_PROTOCOL = {"train": range(1, 17), "validation": range(17, 21), "test": range(21, 25)}


def read_ravdess(root: Path) -> tuple[list[Row], str]:
    """RAVDESS as distributed: media files anywhere under the folder, named by their seven 2-digit fields.

        root/
            Actor_01/01-01-03-01-01-01-01.mp4    Modality-VocalChannel-Emotion-Intensity-Statement-Repetition-Actor
            ...                                  (any sub-folders: only the file names are read)

    Only audio-video recordings (modality 01) are read; video-only (02) and audio-only (03) ones duplicate them
    and are counted as skipped. The label is the emotion field (01 neutral ... 08 surprised), the speaker the actor.
    Any other media file name is an error that lists it.
    """
    kept, skipped, unparsed = [], Counter(), []
    for path in media_files(root):
        match = RAVDESS_PATTERN.fullmatch(path.stem)
        if match is None:
            unparsed.append(path)
            continue
        modality, emotion, actor = match.group(1), match.group(3), match.group(7)
        if modality != "01":
            # Video-only and audio-only recordings duplicate the audio-video ones; the models take both streams.
            skipped[RAVDESS_MODALITIES[modality]] += 1
            continue
        kept.append((str(path), RAVDESS_LABELS[int(emotion) - 1], actor, ""))
    raise_unparsed(root, unparsed, "RAVDESS", RAVDESS_HINT)
    skipped_text = ", ".join(f"{count} {kind}" for kind, count in sorted(skipped.items()))
    if not kept:
        if skipped:
            raise CorpusError(
                f"no RAVDESS audio-video files found under {root}: only audio-video (modality 01) files are used, "
                f"and the folder holds only {skipped_text} (modality 02/03) files"
            )
        raise CorpusError(f"no RAVDESS audio-video files found under {root}")
    note = f"RAVDESS from {root}: {len(kept)} audio-video files"
    return kept, note + (f"; skipped {skipped_text} files" if skipped else "")


def split_ravdess(dataset: Dataset, speakers: list[str]) -> DatasetDict:
    """The usual protocol: actors 1-16 train, 17-20 validation, 21-24 test."""
    indices = {split: [] for split in RAVDESS_PROTOCOL}
    bad = sorted({speaker for speaker in speakers if not (speaker.isdigit() and 1 <= int(speaker) <= 24)})
    if bad:
        raise CorpusError(f"RAVDESS speakers are actor numbers 01-24; found {', '.join(map(repr, bad[:MAX_LISTED]))}")
    for index, speaker in enumerate(speakers):
        split = next(split for split, actors in RAVDESS_PROTOCOL.items() if int(speaker) in actors)
        indices[split].append(index)
    for split, actors in RAVDESS_PROTOCOL.items():
        if not indices[split]:
            # stacklevel 3: the warning points at the caller of speaker_split.
            warnings.warn(
                f"RAVDESS {split} split is empty: no files from actors {actors.start}-{actors.stop - 1}", stacklevel=3
            )
    return select(dataset, indices)


RAVDESS = register_corpus(Corpus("ravdess", "RAVDESS", read_ravdess, RAVDESS_LABELS, split=split_ravdess))
