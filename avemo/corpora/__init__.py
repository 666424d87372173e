"""Emotion corpora as `datasets.Dataset`s, and speaker-independent splits.

`load_corpus` reads the folder layouts the corpora are distributed in (RAVDESS and CREMA-D file names, AFEW class
folders) or a generic `path,label[,speaker]` CSV, without opening any media file. Every reader returns the same
columns: `path` (absolute), `label` (a `ClassLabel`), `speaker` ("" when unknown), `corpus` and `split` (AFEW's
folder split, otherwise ""), with rows sorted by path so results are deterministic.

`speaker_split` makes train/validation/test splits that keep each speaker in one split, since an emotion model
tested on speakers it was trained on reports a flattering accuracy.

Each corpus is one `Corpus` record in its own module (ravdess.py, crema_d.py, afew.py, csv_list.py): its name,
labels, reader (whose docstring is the folder layout it expects) and, where it has one, its own split. Adding a
corpus is one such module, imported below; `load_corpus`, `speaker_split` and the CLI's `--corpus` look it up.
Importing this package imports only the standard library (`datasets` when a corpus is read).
"""

from __future__ import annotations

import logging
from os import PathLike
from typing import TYPE_CHECKING

# The built-in corpora, registered in this order (the order `--corpus` lists them).
from . import ravdess, crema_d, afew, csv_list  # noqa: F401  (isort: skip)
from .base import Corpus, CorpusError, corpus_names, existing_data_dir, get_corpus, register_corpus, to_dataset
from .splits import file_level_split, speaker_level_split

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

__all__ = [
    "CORPORA",
    "Corpus",
    "CorpusError",
    "corpus_labels",
    "corpus_names",
    "get_corpus",
    "load_corpus",
    "register_corpus",
    "speaker_split",
]

logger = logging.getLogger(__name__)

CORPORA = corpus_names()  # the built-in ones; corpus_names() also lists corpora registered later


def corpus_labels(name: str, data_dir: str | PathLike | None = None) -> list[str]:
    """Label names of a corpus in class-index order. Only "csv" reads `data_dir` (its labels come from the table)."""
    corpus = get_corpus(name)
    if corpus.labels is not None:
        return list(corpus.labels)
    if data_dir is None:
        raise CorpusError(
            f'the "{corpus.name}" corpus takes its labels from the table: pass data_dir (the CSV or its folder)'
        )
    return corpus.labels_from_data(existing_data_dir(data_dir))


def load_corpus(name: str, data_dir: str | PathLike, crowd_labels: str | None = None) -> Dataset:
    """Read a corpus into a Dataset with columns path, label (ClassLabel), speaker, corpus, split; sorted by path.

    crowd_labels ("voice", "face" or "multimodal", CREMA-D only) replaces each acted emotion by the one the crowd
    perceived in that modality, read from CREMA-D's summaryTable.csv; files with a tied vote or not in the table
    are dropped.
    """
    corpus = get_corpus(name)
    options = {}
    if crowd_labels is not None:
        if not corpus.crowd_labels:
            offering = " and ".join(name for name in corpus_names() if get_corpus(name).crowd_labels)
            raise CorpusError(f"crowd_labels applies to the {offering} corpus only, not to {corpus.name!r}")
        if crowd_labels not in corpus.crowd_labels:
            choices = ", ".join(corpus.crowd_labels)
            raise CorpusError(f"crowd_labels must be None or one of {choices}, not {crowd_labels!r}")
        options["crowd_labels"] = crowd_labels
    root = existing_data_dir(data_dir)
    if not corpus.data_dir_may_be_file and not root.is_dir():
        raise CorpusError(f"{root}: the {corpus.name} reader expects a folder, not a file")
    rows, note = corpus.read(root, **options)
    labels = list(corpus.labels) if corpus.labels is not None else sorted({label for _, label, _, _ in rows})
    logger.info(note)
    return to_dataset(rows, labels, corpus.name, note)


def speaker_split(dataset: Dataset, name: str, seed: int = 0) -> DatasetDict:
    """Split a corpus into "train", "validation" and "test" so that no speaker is in two splits.

    - ravdess: actors 1-16 train, 17-20 validation, 21-24 test (the usual protocol).
    - afew: the folder split: "train" rows train; "validation" rows are both validation and test, because the
      labels of AFEW's own test set are not public. Without folder splits it falls back as below.
    - others: the sorted speakers, shuffled with `random.Random(seed)`, go about 80/10/10 % to the splits (at
      least one speaker each).

    With fewer than 3 speakers (or no speaker ids) it warns and falls back to a file-level split stratified by
    label, which is not speaker-independent; with fewer than 3 files every split holds all of them.
    """
    corpus = get_corpus(name)
    missing = [column for column in ("label", "speaker") if column not in dataset.column_names]
    if missing:
        raise CorpusError(f"speaker_split needs the columns label and speaker; the dataset lacks {', '.join(missing)}")
    speakers = list(dataset["speaker"])

    if corpus.split is not None:
        splits = corpus.split(dataset, speakers)
        if splits is not None:
            return splits

    known = [speaker for speaker in speakers if speaker]
    if known and len(known) < len(speakers):
        raise CorpusError(
            f"{len(speakers) - len(known)} of {len(speakers)} rows have no speaker: give every row a speaker "
            "(or none, for a file-level split) so that the split can keep speakers apart"
        )
    distinct = sorted(set(known))
    if len(distinct) >= 3:
        return speaker_level_split(dataset, speakers, distinct, seed)
    reason = "no speaker ids" if not distinct else f"only {len(distinct)} speaker(s)"
    return file_level_split(dataset, seed, reason)
