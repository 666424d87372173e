"""The corpus record and registry, and what every corpus reader shares (finding media files, error listings, the
Dataset every reader returns).

Nothing here imports `datasets` at import time: the CLI looks corpus names up when it builds its parser, and must
stay fast.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".flv")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".m4a", ".ogg")
MEDIA_SUFFIXES = VIDEO_SUFFIXES + AUDIO_SUFFIXES
SPLITS = ("train", "validation", "test")
MAX_LISTED = 20

# A reader's rows: (absolute path, label name, speaker or "", folder split or "").
Row = tuple[str, str, str, str]


class CorpusError(ValueError):
    """A corpus cannot be read or split; the message names the files or folder and the problem."""


@dataclass(frozen=True)
class Corpus:
    """One corpus avemo reads: its name, labels, reader and, where it has one, its own speaker split.

    The reader's docstring is the folder layout it expects (as lhotse's `prepare_*` recipes write theirs); it is
    also `Corpus.layout`.
    """

    name: str  # lower case; what `--corpus` and `load_corpus` take
    title: str  # how people write it
    read: Callable[..., tuple[list[Row], str]]  # (root, **options) -> rows and a one-line note of what was read
    labels: tuple[str, ...] | None  # class-index order (saved models store indices); None: from the data
    labels_from_data: Callable[[Path], list[str]] | None = None  # data_dir -> labels, when `labels` is None
    # (dataset, speakers) -> its own train/validation/test split, or None to use the generic speaker split.
    split: Callable[[Dataset, list[str]], DatasetDict | None] | None = None
    crowd_labels: tuple[str, ...] = ()  # the crowd-perceived label sets the reader can use instead of acted ones
    data_dir_may_be_file: bool = False

    @property
    def layout(self) -> str:
        """The folder layout the reader expects: its docstring."""
        return inspect.getdoc(self.read) or ""


class CorpusRegistry:
    """Corpora by lower-case name, in registration order: the video corpora here, the image corpora of
    `avemo train-faces` in images.py. `get` is case-insensitive and names the known corpora when a name is not one."""

    def __init__(self, kind: str, error: type[Exception]):
        self.kind, self.error = kind, error
        self._records: dict = {}

    def register(self, record):
        """Make `record` (with a lower-case `name`) known; returns it."""
        if record.name != record.name.strip().lower():
            raise ValueError(f"{self.kind} names are lower case without spaces around them, not {record.name!r}")
        self._records[record.name] = record
        return record

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._records)

    def get(self, name: str):
        """The record registered as `name` (any case); the registry's error lists the known names."""
        normalized = name.strip().lower() if isinstance(name, str) else name
        if normalized not in self._records:
            raise self.error(f"unknown {self.kind} {name!r}; expected one of {', '.join(self._records)}")
        return self._records[normalized]

    def copy(self) -> "CorpusRegistry":
        """A registry of the same records, which later registrations do not share (for tests)."""
        copied = CorpusRegistry(self.kind, self.error)
        copied._records = dict(self._records)
        return copied

    def __contains__(self, name) -> bool:
        return name in self._records

    def __iter__(self):
        return iter(self._records)


_REGISTRY = CorpusRegistry("corpus", CorpusError)


def register_corpus(corpus: Corpus) -> Corpus:
    """Make a corpus known to `load_corpus`, `speaker_split` and the `--corpus` option of the CLI; returns it."""
    if (corpus.labels is None) == (corpus.labels_from_data is None):
        raise ValueError(f"corpus {corpus.name!r}: give either fixed labels or labels_from_data")
    return _REGISTRY.register(corpus)


def corpus_names() -> tuple[str, ...]:
    """The registered corpora, in registration order."""
    return _REGISTRY.names()


def get_corpus(name: str) -> Corpus:
    """The record of a corpus, by case-insensitive name; a CorpusError lists the known names."""
    return _REGISTRY.get(name)


# ---------------------------------------------------------------- files


def existing_data_dir(data_dir: str | PathLike | None) -> Path:
    """`data_dir` as an absolute path (symlinks kept), which must exist; a CorpusError says what is missing."""
    if data_dir is None:
        raise CorpusError("data_dir is required: the folder (or, for csv, the CSV file) of the corpus")
    # absolute() without resolve(): paths stay under data_dir even where files are symlinks.
    root = Path(os.path.abspath(Path(data_dir).expanduser()))
    if not root.exists():
        raise CorpusError(f"{root}: data_dir does not exist")
    return root


def media_files(root: Path) -> list[Path]:
    """Media files under root, recursively and sorted; hidden files and folders are skipped."""
    found = []
    for folder, subfolders, files in os.walk(root, followlinks=True):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        found.extend(
            Path(folder, name)
            for name in files
            if not name.startswith(".") and Path(name).suffix.lower() in MEDIA_SUFFIXES
        )
    return sorted(found, key=str)


def find_file(root: Path, name: str) -> Path | None:
    """root/name, else the first root/**/name in sorted walk order."""
    for folder, subfolders, files in os.walk(root, followlinks=True):
        subfolders[:] = sorted(sub for sub in subfolders if not sub.startswith("."))
        if name in files:
            return Path(folder, name)
    return None


def open_text(path: Path):
    """The file opened for reading as text (utf-8, a byte-order mark dropped); a CorpusError names a file that cannot be
    read."""
    # utf-8-sig drops the byte-order mark that spreadsheet exports put before the header.
    try:
        return open(path, newline="", encoding="utf-8-sig")
    except OSError as error:
        raise CorpusError(f"{path}: cannot read ({error})") from error


def raise_unparsed(root: Path, unparsed: list[Path], corpus: str, hint: str) -> None:
    """Raise a CorpusError listing the media files that do not follow the corpus' naming, with `hint`; nothing when
    there are none."""
    if unparsed:
        raise CorpusError(
            f"{len(unparsed)} media file(s) under {root} do not follow the {corpus} naming:\n"
            f"{listing(root, unparsed)}\n{hint}"
        )


def listing(root: Path | None, paths: list[Path]) -> str:
    """Up to MAX_LISTED paths, one a line (relative to root when given), then how many more."""
    shown = [str(path.relative_to(root) if root else path) for path in paths[:MAX_LISTED]]
    more = len(paths) - MAX_LISTED
    return "\n".join("  " + line for line in shown) + (f"\n  ... and {more} more" if more > 0 else "")


# ---------------------------------------------------------------- datasets


def to_dataset(rows: list[Row], labels: list[str], corpus: str, note: str) -> Dataset:
    """The reader's rows as the Dataset every corpus returns: path, label (a ClassLabel of `labels`), speaker, corpus
    and split columns, sorted by path, with `note` as its description."""
    from datasets import ClassLabel, Dataset, DatasetInfo, Features, Value

    rows = sorted(rows)  # by path first, so results do not depend on file-system order
    features = Features(
        {
            "path": Value("string"),
            "label": ClassLabel(names=labels),
            "speaker": Value("string"),
            "corpus": Value("string"),
            "split": Value("string"),
        }
    )
    index = {label: position for position, label in enumerate(labels)}
    columns = {
        "path": [path for path, _, _, _ in rows],
        "label": [index[label] for _, label, _, _ in rows],
        "speaker": [speaker for _, _, speaker, _ in rows],
        "corpus": [corpus] * len(rows),
        "split": [split for *_, split in rows],
    }
    return Dataset.from_dict(columns, features=features, info=DatasetInfo(description=note, features=features))


def select(dataset: Dataset, indices: dict[str, list[int]]) -> DatasetDict:
    """A DatasetDict of the named splits, each the rows at its indices (sorted, so each split keeps the corpus' path
    order)."""
    from datasets import DatasetDict

    # Sorted indices keep each split in path order, like the corpus itself.
    return DatasetDict({split: dataset.select(sorted(indices[split])) for split in SPLITS})
