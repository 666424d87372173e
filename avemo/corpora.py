"""Emotion corpora as `datasets.Dataset`s, and speaker-independent splits.

`load_corpus` reads the folder layouts the corpora are distributed in (RAVDESS and CREMA-D file names, AFEW class
folders) or a generic `path,label[,speaker]` CSV, without opening any media file. Every reader returns the same
columns: `path` (absolute), `label` (a `ClassLabel`), `speaker` ("" when unknown), `corpus` and `split` (AFEW's
folder split, otherwise ""), with rows sorted by path so results are deterministic.

`speaker_split` makes train/validation/test splits that keep each speaker in one split, since an emotion model
tested on speakers it was trained on reports a flattering accuracy.
"""

import csv
import logging
import os
import random
import re
import warnings
from collections import Counter
from os import PathLike
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, DatasetInfo, Features, Value

from modeling_avemo.configuration_avemo import AFEW_LABELS

__all__ = ["CORPORA", "CorpusError", "corpus_labels", "load_corpus", "speaker_split"]

logger = logging.getLogger(__name__)

CORPORA = ("ravdess", "crema-d", "afew", "csv")

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".flv")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".m4a", ".ogg")
MEDIA_SUFFIXES = VIDEO_SUFFIXES + AUDIO_SUFFIXES

# Label names in class-index order; the order is part of the contract (saved models store indices).
RAVDESS_LABELS = ("Neutral", "Calm", "Happy", "Sad", "Angry", "Fearful", "Disgust", "Surprised")
CREMA_D_LABELS = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad")

RAVDESS_PATTERN = re.compile(r"(0[1-3])-(\d\d)-(0[1-8])-(\d\d)-(\d\d)-(\d\d)-(0[1-9]|1\d|2[0-4])")
RAVDESS_HINT = (
    "RAVDESS names are seven 2-digit fields Modality-VocalChannel-Emotion-Intensity-Statement-Repetition-Actor, "
    "modality 01-03, emotion 01-08, actor 01-24 (e.g. 01-01-03-01-01-01-01.mp4)"
)
RAVDESS_MODALITIES = {"01": "audio-video", "02": "video-only", "03": "audio-only"}

CREMA_D_EMOTIONS = {"ANG": "Angry", "DIS": "Disgust", "FEA": "Fear", "HAP": "Happy", "NEU": "Neutral", "SAD": "Sad"}
CREMA_D_PATTERN = re.compile(r"(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX)")
CREMA_D_HINT = (
    "CREMA-D names are ActorID_Sentence_Emotion_Level: 4 digits, 3 capital letters, one of "
    "ANG DIS FEA HAP NEU SAD, one of LO MD HI XX (e.g. 1001_DFA_ANG_XX.flv)"
)
CREMA_D_TABLE = "summaryTable.csv"
CREMA_D_VOTE_COLUMNS = {"voice": "VoiceVote", "face": "FaceVote", "multimodal": "MultiModalVote"}
CREMA_D_VOTES = {"A": "Angry", "D": "Disgust", "F": "Fear", "H": "Happy", "N": "Neutral", "S": "Sad"}

AFEW_SPLIT_FOLDERS = {"train": "train", "val": "validation", "validation": "validation"}

RAVDESS_PROTOCOL = {"train": range(1, 17), "validation": range(17, 21), "test": range(21, 25)}
SPLITS = ("train", "validation", "test")
MAX_LISTED = 20


class CorpusError(ValueError):
    """A corpus cannot be read or split; the message names the files or folder and the problem."""


# ---------------------------------------------------------------- public API


def corpus_labels(name: str, data_dir: str | PathLike | None = None) -> list[str]:
    """Label names of a corpus in class-index order. Only "csv" reads `data_dir` (its labels come from the table)."""
    name = _corpus_name(name)
    if name == "ravdess":
        return list(RAVDESS_LABELS)
    if name == "crema-d":
        return list(CREMA_D_LABELS)
    if name == "afew":
        return list(AFEW_LABELS)
    if data_dir is None:
        raise CorpusError('the "csv" corpus takes its labels from the table: pass data_dir (the CSV or its folder)')
    return sorted({label for _, label, _ in _read_table(_find_csv(_existing(data_dir)))})


def load_corpus(name: str, data_dir: str | PathLike, crowd_labels: str | None = None) -> Dataset:
    """Read a corpus into a Dataset with columns path, label (ClassLabel), speaker, corpus, split; sorted by path.

    crowd_labels ("voice", "face" or "multimodal", CREMA-D only) replaces each acted emotion by the one the crowd
    perceived in that modality, read from CREMA-D's summaryTable.csv; files with a tied vote or not in the table
    are dropped.
    """
    name = _corpus_name(name)
    if crowd_labels is not None:
        if name != "crema-d":
            raise CorpusError(f"crowd_labels applies to the crema-d corpus only, not to {name!r}")
        if crowd_labels not in CREMA_D_VOTE_COLUMNS:
            choices = ", ".join(CREMA_D_VOTE_COLUMNS)
            raise CorpusError(f"crowd_labels must be None or one of {choices}, not {crowd_labels!r}")
    root = _existing(data_dir)
    if name == "csv":
        rows, labels, note = _read_csv_corpus(root)
    else:
        if not root.is_dir():
            raise CorpusError(f"{root}: the {name} reader expects a folder, not a file")
        if name == "ravdess":
            rows, note = _read_ravdess(root)
            labels = RAVDESS_LABELS
        elif name == "crema-d":
            rows, note = _read_crema_d(root, crowd_labels)
            labels = CREMA_D_LABELS
        else:
            rows, note = _read_afew(root)
            labels = AFEW_LABELS
    logger.info(note)
    return _to_dataset(rows, list(labels), name, note)


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
    name = _corpus_name(name)
    missing = [column for column in ("label", "speaker") if column not in dataset.column_names]
    if missing:
        raise CorpusError(f"speaker_split needs the columns label and speaker; the dataset lacks {', '.join(missing)}")
    speakers = list(dataset["speaker"])

    if name == "ravdess":
        return _ravdess_split(dataset, speakers)
    if name == "afew" and "split" in dataset.column_names and any(list(dataset["split"])):
        return _afew_split(dataset)

    known = [speaker for speaker in speakers if speaker]
    if known and len(known) < len(speakers):
        raise CorpusError(
            f"{len(speakers) - len(known)} of {len(speakers)} rows have no speaker: give every row a speaker "
            "(or none, for a file-level split) so that the split can keep speakers apart"
        )
    distinct = sorted(set(known))
    if len(distinct) >= 3:
        return _speaker_level_split(dataset, speakers, distinct, seed)
    reason = "no speaker ids" if not distinct else f"only {len(distinct)} speaker(s)"
    return _file_level_split(dataset, seed, reason)


# ---------------------------------------------------------------- readers


def _read_ravdess(root: Path) -> tuple[list[tuple[str, str, str, str]], str]:
    kept, skipped, unparsed = [], Counter(), []
    for path in _media_files(root):
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
    _raise_unparsed(root, unparsed, "RAVDESS", RAVDESS_HINT)
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


def _read_crema_d(root: Path, crowd_labels: str | None) -> tuple[list[tuple[str, str, str, str]], str]:
    parsed, unparsed = [], []
    for path in _media_files(root):
        match = CREMA_D_PATTERN.fullmatch(path.stem)
        if match is None:
            unparsed.append(path)
        else:
            parsed.append((path, match.group(1), CREMA_D_EMOTIONS[match.group(3)]))
    _raise_unparsed(root, unparsed, "CREMA-D", CREMA_D_HINT)
    if not parsed:
        raise CorpusError(f"no CREMA-D media files found under {root}")
    if crowd_labels is None:
        rows = [(str(path), label, actor, "") for path, actor, label in parsed]
        return rows, f"CREMA-D from {root}: {len(rows)} files, acted labels"

    table = _find_file(root, CREMA_D_TABLE)
    if table is None:
        raise CorpusError(f"crowd_labels={crowd_labels!r} needs CREMA-D's {CREMA_D_TABLE}, not found under {root}")
    votes = _read_crowd_votes(table, CREMA_D_VOTE_COLUMNS[crowd_labels])
    rows, tied, absent = [], 0, 0
    for path, actor, _ in parsed:
        vote = votes.get(path.stem)
        if vote is None:
            absent += 1
        elif ":" in vote:  # a tie between emotions: no single perceived label
            tied += 1
        else:
            rows.append((str(path), CREMA_D_VOTES[vote], actor, ""))
    dropped = f"dropped {tied} with a tied vote and {absent} not in {table}"
    if not rows:
        raise CorpusError(f"no CREMA-D files left under {root} with {crowd_labels} crowd labels: {dropped}")
    return rows, f"CREMA-D from {root}: {len(rows)} files with {crowd_labels} crowd labels; {dropped}"


def _read_crowd_votes(table: Path, column: str) -> dict[str, str]:
    """FileName -> vote ("N", or "N:S" for a tie) from summaryTable.csv, checking every vote letter."""
    with _open_text(table) as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        if "FileName" not in fields or column not in fields:
            found = ", ".join(fields) or "no header"
            raise CorpusError(f"{table}: expected the columns FileName and {column}; found {found}")
        votes = {}
        for row in reader:
            vote = (row[column] or "").strip()
            if not vote or not set(vote.split(":")) <= CREMA_D_VOTES.keys():
                raise CorpusError(
                    f"{table}, line {reader.line_num}: {column} {vote!r} is not one of the letters "
                    f"{' '.join(CREMA_D_VOTES)} (ties joined with ':')"
                )
            votes[(row["FileName"] or "").strip()] = vote
    return votes


def _read_afew(root: Path) -> tuple[list[tuple[str, str, str, str]], str]:
    class_names = {label.lower(): label for label in AFEW_LABELS}
    rows, misplaced, layouts = [], [], set()
    for path in _media_files(root):
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
            f"AFEW files outside a class folder under {root} (expected {expected}):\n{_listing(root, misplaced)}"
        )
    if not rows:
        raise CorpusError(f"no AFEW media files found under {root} (expected {expected})")
    if len(layouts) > 1:
        raise CorpusError(f"{root} mixes class folders with Train/Val split folders; expected {expected}, not both")
    counts = Counter(split for *_, split in rows)
    per_split = ", ".join(f"{count} {split}" for split, count in sorted(counts.items()) if split)
    return rows, f"AFEW from {root}: {len(rows)} files" + (f" ({per_split})" if per_split else "")


def _read_csv_corpus(root: Path) -> tuple[list[tuple[str, str, str, str]], list[str], str]:
    table = _find_csv(root)
    entries = _read_table(table)
    missing = [Path(path) for path, _, _ in entries if not os.path.isfile(path)]
    if missing:
        raise CorpusError(f"{table}: {len(missing)} listed file(s) not found:\n{_listing(None, missing)}")
    rows = [(path, label, speaker, "") for path, label, speaker in entries]
    return rows, sorted({label for _, label, _ in entries}), f"CSV corpus from {table}: {len(rows)} files"


def _find_csv(root: Path) -> Path:
    if root.is_file():
        return root
    found = sorted(path for path in root.glob("*.csv") if path.is_file() and not path.name.startswith("."))
    if len(found) != 1:
        listed = ": " + ", ".join(path.name for path in found) if found else ""
        raise CorpusError(
            f"{root}: expected exactly one *.csv (path,label[,speaker]) in the folder, found {len(found)}{listed}"
        )
    return found[0]


def _read_table(table: Path) -> list[tuple[str, str, str]]:
    """(absolute path, label, speaker) rows of a generic corpus CSV; relative paths are relative to the CSV."""
    with _open_text(table) as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise CorpusError(f"{table}: empty CSV; expected a header path,label (and optionally speaker) and rows")
        # Tolerate spaces and letter case in the header, which spreadsheets tend to introduce.
        reader.fieldnames = [(field or "").strip().lower() for field in reader.fieldnames]
        absent = [column for column in ("path", "label") if column not in reader.fieldnames]
        if absent:
            raise CorpusError(
                f"{table}: missing column(s) {', '.join(absent)}; expected a header path,label (optionally speaker), "
                f"found {','.join(reader.fieldnames)}"
            )
        entries, bad_suffix, seen = [], [], set()
        for row in reader:
            path, label = (row["path"] or "").strip(), (row["label"] or "").strip()
            if not path or not label:
                raise CorpusError(f"{table}, line {reader.line_num}: empty path or label")
            absolute = os.path.abspath(table.parent / path)
            if absolute in seen:
                # The same file twice could land in two splits and leak test data into training.
                raise CorpusError(f"{table}, line {reader.line_num}: {path} is listed twice")
            seen.add(absolute)
            if Path(path).suffix.lower() not in MEDIA_SUFFIXES:
                bad_suffix.append(Path(path))
            entries.append((absolute, label, (row.get("speaker") or "").strip()))
    if bad_suffix:
        raise CorpusError(
            f"{table}: {len(bad_suffix)} listed file(s) are not media files ({' '.join(MEDIA_SUFFIXES)}):\n"
            f"{_listing(None, bad_suffix)}"
        )
    if not entries:
        raise CorpusError(f"{table}: no rows under the header; expected one row per file: path,label[,speaker]")
    return entries


# ---------------------------------------------------------------- splits


def _ravdess_split(dataset: Dataset, speakers: list[str]) -> DatasetDict:
    indices = {split: [] for split in SPLITS}
    bad = sorted({speaker for speaker in speakers if not (speaker.isdigit() and 1 <= int(speaker) <= 24)})
    if bad:
        raise CorpusError(f"RAVDESS speakers are actor numbers 01-24; found {', '.join(map(repr, bad[:MAX_LISTED]))}")
    for index, speaker in enumerate(speakers):
        split = next(split for split, actors in RAVDESS_PROTOCOL.items() if int(speaker) in actors)
        indices[split].append(index)
    for split, actors in RAVDESS_PROTOCOL.items():
        if not indices[split]:
            warnings.warn(
                f"RAVDESS {split} split is empty: no files from actors {actors.start}-{actors.stop - 1}", stacklevel=3
            )
    return _select(dataset, indices)


def _afew_split(dataset: Dataset) -> DatasetDict:
    splits = list(dataset["split"])
    if "" in splits:
        raise CorpusError("AFEW rows mix folder splits with rows that have none; expected every row in Train/Val")
    train = [index for index, split in enumerate(splits) if split == "train"]
    validation = [index for index, split in enumerate(splits) if split == "validation"]
    for split, rows in (("train", train), ("validation", validation)):
        if not rows:
            warnings.warn(f"AFEW {split} split is empty: the corpus folder has no {split} files", stacklevel=3)
    return _select(dataset, {"train": train, "validation": validation, "test": validation})


def _speaker_level_split(dataset: Dataset, speakers: list[str], distinct: list[str], seed: int) -> DatasetDict:
    order = list(distinct)  # sorted first, so that the shuffle depends on the seed only
    random.Random(seed).shuffle(order)
    sizes = _split_sizes(len(order))
    split_of = {}
    for split, start, stop in _cuts(sizes):
        split_of.update((speaker, split) for speaker in order[start:stop])
    indices = {split: [] for split in SPLITS}
    for index, speaker in enumerate(speakers):
        indices[split_of[speaker]].append(index)
    return _select(dataset, indices)


def _file_level_split(dataset: Dataset, seed: int, reason: str) -> DatasetDict:
    count = len(dataset)
    message = f"speaker_split: {reason}; the split is file-level, stratified by label, and not speaker-independent"
    if count < 3:
        warnings.warn(f"{message}; with {count} file(s) every split holds all of them", stacklevel=3)
        everything = list(range(count))
        return _select(dataset, {split: everything for split in SPLITS})
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
    return _select(dataset, {split: order[start:stop] for split, start, stop in _cuts(_split_sizes(count))})


def _split_sizes(count: int) -> tuple[int, int, int]:
    """About 80/10/10 % of count, at least one each (count >= 3)."""
    held_out = max(1, round(count * 0.1))
    return count - 2 * held_out, held_out, held_out


def _cuts(sizes: tuple[int, int, int]) -> list[tuple[str, int, int]]:
    bounds, start = [], 0
    for split, size in zip(SPLITS, sizes):
        bounds.append((split, start, start + size))
        start += size
    return bounds


def _select(dataset: Dataset, indices: dict[str, list[int]]) -> DatasetDict:
    # Sorted indices keep each split in path order, like the corpus itself.
    return DatasetDict({split: dataset.select(sorted(indices[split])) for split in SPLITS})


# ---------------------------------------------------------------- helpers


def _corpus_name(name: str) -> str:
    normalized = name.strip().lower() if isinstance(name, str) else name
    if normalized not in CORPORA:
        raise CorpusError(f"unknown corpus {name!r}; expected one of {', '.join(CORPORA)}")
    return normalized


def _existing(data_dir: str | PathLike | None) -> Path:
    if data_dir is None:
        raise CorpusError("data_dir is required: the folder (or, for csv, the CSV file) of the corpus")
    # absolute() without resolve(): paths stay under data_dir even where files are symlinks.
    root = Path(os.path.abspath(Path(data_dir).expanduser()))
    if not root.exists():
        raise CorpusError(f"{root}: data_dir does not exist")
    return root


def _media_files(root: Path) -> list[Path]:
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


def _find_file(root: Path, name: str) -> Path | None:
    """root/name, else the first root/**/name in sorted walk order."""
    for folder, subfolders, files in os.walk(root, followlinks=True):
        subfolders[:] = sorted(sub for sub in subfolders if not sub.startswith("."))
        if name in files:
            return Path(folder, name)
    return None


def _open_text(path: Path):
    # utf-8-sig drops the byte-order mark that spreadsheet exports put before the header.
    try:
        return open(path, newline="", encoding="utf-8-sig")
    except OSError as error:
        raise CorpusError(f"{path}: cannot read ({error})") from error


def _raise_unparsed(root: Path, unparsed: list[Path], corpus: str, hint: str) -> None:
    if unparsed:
        raise CorpusError(
            f"{len(unparsed)} media file(s) under {root} do not follow the {corpus} naming:\n"
            f"{_listing(root, unparsed)}\n{hint}"
        )


def _listing(root: Path | None, paths: list[Path]) -> str:
    """Up to MAX_LISTED paths, one a line (relative to root when given), then how many more."""
    shown = [str(path.relative_to(root) if root else path) for path in paths[:MAX_LISTED]]
    more = len(paths) - MAX_LISTED
    return "\n".join("  " + line for line in shown) + (f"\n  ... and {more} more" if more > 0 else "")


def _to_dataset(rows: list[tuple[str, str, str, str]], labels: list[str], corpus: str, note: str) -> Dataset:
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
