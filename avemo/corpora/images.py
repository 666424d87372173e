"""Facial-expression image corpora for the face CNN's image stage (`avemo train-faces`), as `datasets` datasets.

The paper transfers its face CNN in two steps: faces (MS-Celeb-1M), then facial-expression *images* (AffectNet
worked best; FER+ and RAF-DB were also tried), and only then video. Each reader below returns a
`datasets.DatasetDict` with `train`, `validation` and `test` splits and the columns

- `image`: the picture (`datasets.Image`, decoded to PIL on access);
- `label`: a `ClassLabel` with the corpus' expression names (avemo's spelling: "Happy", not "happiness");
- `path`: where the picture came from (a file, or "fer2013.csv:row 17"), named in every message about it;
- `box`: the annotated face box (left, top, right, bottom), or [] where the corpus has none;
- `precropped`: True where the picture is a face already (FER2013's 48x48 crops, RAF-DB's aligned 100x100
  faces): the aligner then takes the whole picture as the face instead of looking for one.

Corpora without an official validation split get one from their training split: `validation_share` of each
class, drawn with `seed`.
"""

import csv
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from avemo.corpora.base import CorpusRegistry

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
FER2013_LABELS = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
# fer2013new.csv's vote columns, in its order; the last two (unknown, not a face) are not expressions.
FERPLUS_LABELS = ("Neutral", "Happy", "Surprise", "Sad", "Angry", "Disgust", "Fear", "Contempt")
FERPLUS_COLUMNS = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)
RAFDB_LABELS = ("Surprise", "Fear", "Disgust", "Happy", "Sad", "Angry", "Neutral")  # list_patition_label.txt: 1 .. 7
# AffectNet's `expression` codes 0-7; 8 (None), 9 (Uncertain) and 10 (No-Face) are not expressions.
AFFECTNET_LABELS = ("Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Angry", "Contempt")


class ImageCorpusError(ValueError):
    """An image corpus cannot be read; the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class ImageCorpus:
    """One corpus: its name, how to read it, and the layout it expects (the reader's docstring)."""

    name: str
    read: Callable  # (path, validation_share, seed, **options) -> DatasetDict

    @property
    def layout(self) -> str:
        """The layout the reader expects: its docstring."""
        return (self.read.__doc__ or "").strip()


def _features(labels):
    import datasets

    return datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=list(labels)),
            "path": datasets.Value("string"),
            "box": datasets.List(datasets.Value("int32")),
            "precropped": datasets.Value("bool"),
        }
    )


def _dataset(rows: list[dict], labels):
    import datasets

    columns = {key: [row[key] for row in rows] for key in ("image", "label", "path", "box", "precropped")}
    return datasets.Dataset.from_dict(columns, features=_features(labels))


def _carve_validation(rows: list[dict], share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, validation): `share` of each label's rows (at least one where a label has two or more) held out."""
    by_label: dict[int, list[dict]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    train, validation = [], []
    generator = random.Random(seed)
    for label in sorted(by_label):
        group = by_label[label][:]
        generator.shuffle(group)
        held = min(len(group) - 1, max(1, round(share * len(group)))) if len(group) > 1 and share > 0 else 0
        validation += group[:held]
        train += group[held:]
    return train, validation


def _splits(
    train: list[dict], validation: list[dict] | None, test: list[dict], labels, share: float, seed: int, source
):
    import datasets

    if validation is None:
        train, validation = _carve_validation(train, share, seed)
    for name, rows in (("train", train), ("validation", validation), ("test", test)):
        if not rows:
            raise ImageCorpusError(f"{source}: the {name} split has no images")
    return datasets.DatasetDict(
        {name: _dataset(rows, labels) for name, rows in (("train", train), ("validation", validation), ("test", test))}
    )


def _file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ImageCorpusError(f"{path}: {what} not found")
    return path


# --------------------------------------------------------------------------------------------------- readers


def read_image_folder(path, validation_share: float = 0.1, seed: int = 0):
    """One folder per class: DIR/<label>/<image>, or DIR/train/<label>/..., DIR/validation/<label>/... (or val)
    and DIR/test/<label>/... for fixed splits. Labels are the folder names. Without split folders, the validation
    and test splits are each `validation_share` of every class, drawn with `seed`."""
    root = Path(path)
    if not root.is_dir():
        raise ImageCorpusError(f"{root}: not a folder of class folders")
    split_names = {"train": ("train",), "validation": ("validation", "val", "valid", "dev"), "test": ("test",)}
    found = {
        split: next((root / name for name in names if (root / name).is_dir()), None)
        for split, names in split_names.items()
    }
    label_roots = [folder for folder in found.values() if folder is not None] or [root]
    labels = sorted({child.name for folder in label_roots for child in folder.iterdir() if child.is_dir()})
    if not labels:
        raise ImageCorpusError(f"{root}: no class folders (expected {root}/<label>/<image>, e.g. {root}/Happy/001.jpg)")

    def rows_of(folder: Path) -> list[dict]:
        """The picture rows of one split folder (a sub-folder per label)."""
        rows = []
        for index, label in enumerate(labels):
            for file in sorted((folder / label).glob("*")) if (folder / label).is_dir() else []:
                if file.suffix.lower() in IMAGE_SUFFIXES:
                    rows.append({"image": str(file), "label": index, "path": str(file), "box": [], "precropped": False})
        return rows

    if found["train"] is None:
        everything = rows_of(root)
        rest, test = _carve_validation(everything, validation_share, seed + 1)
        return _splits(rest, None, test, labels, validation_share, seed, root)
    if found["test"] is None:
        raise ImageCorpusError(f"{root}: has a train folder but no test folder (expected {root}/test/<label>/...)")
    validation = rows_of(found["validation"]) if found["validation"] is not None else None
    return _splits(rows_of(found["train"]), validation, rows_of(found["test"]), labels, validation_share, seed, root)


def _fer2013_rows(csv_path: Path) -> list[tuple[int, str, np.ndarray]]:
    """(emotion, usage, 48x48 uint8 image) of each row of fer2013.csv."""
    rows = []
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or ())
        if missing:
            raise ImageCorpusError(
                f"{csv_path}: not fer2013.csv (columns emotion, pixels, Usage; missing {', '.join(sorted(missing))})"
            )
        for number, row in enumerate(reader):
            values = np.array(row["pixels"].split(), dtype=np.int64) if row["pixels"].strip() else np.zeros(0)
            if values.size != 48 * 48 or values.min() < 0 or values.max() > 255:
                raise ImageCorpusError(
                    f"{csv_path}: row {number}: `pixels` must hold 2304 values in 0-255 (a 48x48 image); "
                    f"got {values.size}"
                )
            rows.append((int(row["emotion"]), row["Usage"], values.astype(np.uint8).reshape(48, 48)))
    return rows


_FER_SPLITS = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test"}


def read_fer2013(path, validation_share: float = 0.1, seed: int = 0):
    """FER2013 (Goodfellow et al. 2013): DIR/fer2013.csv (or the CSV itself) with columns emotion (0 Angry,
    1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral), pixels (48x48 grayscale, space-separated) and
    Usage: Training -> train, PublicTest -> validation, PrivateTest -> test. The images are face crops already."""
    csv_path = Path(path) / "fer2013.csv" if Path(path).is_dir() else Path(path)
    splits = {"train": [], "validation": [], "test": []}
    for number, (emotion, usage, image) in enumerate(_fer2013_rows(_file(csv_path, "fer2013.csv"))):
        if usage not in _FER_SPLITS or not 0 <= emotion < len(FER2013_LABELS):
            raise ImageCorpusError(f"{csv_path}: row {number}: unknown Usage {usage!r} or emotion {emotion}")
        row = {"image": image, "label": emotion, "path": f"{csv_path.name}:row {number}", "box": [], "precropped": True}
        splits[_FER_SPLITS[usage]].append(row)
    return _splits(
        splits["train"], splits["validation"], splits["test"], FER2013_LABELS, validation_share, seed, csv_path
    )


def ferplus_majority(votes) -> int | None:
    """FER+'s majority label of one image from its 10 vote counts (fer2013new.csv order), or None to drop it.

    As Microsoft's FER+ reference does in its "majority" mode: a class with a single vote is an outlier and loses
    it; the image keeps the class holding more than half of the remaining votes, and is dropped when no class
    does or when that class is "unknown" or "not a face"."""
    counts = [count if count > 1 else 0 for count in votes]
    total = sum(counts)
    if total == 0:
        return None
    best = max(range(len(counts)), key=lambda index: counts[index])
    if counts[best] <= total / 2 or best >= len(FERPLUS_LABELS):
        return None
    return best


def read_ferplus(path, validation_share: float = 0.1, seed: int = 0):
    """FER+ (Barsoum et al. 2016): DIR/fer2013new.csv (the ten crowd votes of each FER2013 image: Usage, Image
    name, neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF) beside
    DIR/fer2013.csv (the pixels, row for row). Labels by FER+'s majority vote (see `ferplus_majority`): eight
    classes, contempt included; rows without an image name or without a majority are left out."""
    root = Path(path)
    votes_path = _file(root / "fer2013new.csv", "FER+ votes (fer2013new.csv)")
    pixels = _fer2013_rows(_file(root / "fer2013.csv", "FER2013 pixels (fer2013.csv)"))
    with open(votes_path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"Usage", "Image name", *FERPLUS_COLUMNS} - set(reader.fieldnames or ())
        if missing:
            raise ImageCorpusError(
                f"{votes_path}: not FER+'s fer2013new.csv (missing columns {', '.join(sorted(missing))})"
            )
        vote_rows = list(reader)
    if len(vote_rows) != len(pixels):
        raise ImageCorpusError(
            f"{votes_path}: {len(vote_rows)} rows, but fer2013.csv has {len(pixels)}: the two files go row for row"
        )
    splits = {"train": [], "validation": [], "test": []}
    for number, (votes, (_, _, image)) in enumerate(zip(vote_rows, pixels)):
        if not votes["Image name"].strip():
            continue  # FER+ removed this image
        label = ferplus_majority([int(float(votes[column] or 0)) for column in FERPLUS_COLUMNS])
        if label is None or votes["Usage"] not in _FER_SPLITS:
            continue
        row = {
            "image": image,
            "label": label,
            "path": f"fer2013.csv:row {number} ({votes['Image name']})",
            "box": [],
            "precropped": True,
        }
        splits[_FER_SPLITS[votes["Usage"]]].append(row)
    return _splits(
        splits["train"], splits["validation"], splits["test"], FERPLUS_LABELS, validation_share, seed, votes_path
    )


def read_rafdb(path, validation_share: float = 0.1, seed: int = 0, rafdb_images: str = "auto"):
    """RAF-DB basic emotions (Li et al. 2017): DIR/EmoLabel/list_patition_label.txt (lines "train_00001.jpg 5",
    labels 1 Surprise, 2 Fear, 3 Disgust, 4 Happy, 5 Sad, 6 Angry, 7 Neutral; train_* and test_* name the split)
    and the pictures in DIR/Image/original/ (whole photographs: faces found and aligned by avemo, so that image
    and video crops match) or DIR/Image/aligned/ (train_00001_aligned.jpg, RAF-DB's own 100x100 faces, taken
    whole). `rafdb_images`: "original", "aligned" or "auto" (original when present)."""
    root = Path(path)
    labels_file = _file(
        root / "EmoLabel" / "list_patition_label.txt", "RAF-DB label list (EmoLabel/list_patition_label.txt)"
    )
    if rafdb_images == "auto":
        rafdb_images = "original" if (root / "Image" / "original").is_dir() else "aligned"
    if rafdb_images not in ("original", "aligned"):
        raise ImageCorpusError(f"rafdb_images must be 'original', 'aligned' or 'auto'; got {rafdb_images!r}")
    folder = root / "Image" / rafdb_images
    if not folder.is_dir():
        raise ImageCorpusError(f"{folder}: RAF-DB picture folder not found")
    splits = {"train": [], "test": []}
    for number, line in enumerate(labels_file.read_text().splitlines()):
        if not line.strip():
            continue
        try:
            name, label = line.split()
            label = int(label) - 1
        except ValueError:
            raise ImageCorpusError(
                f"{labels_file}: line {number + 1}: expected 'NAME.jpg LABEL'; got {line!r}"
            ) from None
        if not 0 <= label < len(RAFDB_LABELS) or not name.startswith(("train_", "test_")):
            raise ImageCorpusError(
                f"{labels_file}: line {number + 1}: label {label + 1} outside 1-7 or name not train_*/test_*"
            )
        file = folder / (name if rafdb_images == "original" else f"{Path(name).stem}_aligned{Path(name).suffix}")
        row = {
            "image": str(_file(file, "RAF-DB picture")),
            "label": label,
            "path": str(file),
            "box": [],
            "precropped": rafdb_images == "aligned",
        }
        splits["train" if name.startswith("train_") else "test"].append(row)
    return _splits(splits["train"], None, splits["test"], RAFDB_LABELS, validation_share, seed, labels_file)


def read_affectnet(path, validation_share: float = 0.1, seed: int = 0, affectnet_classes: int = 7):
    """AffectNet (Mollahosseini et al. 2017), manually annotated part: DIR/training.csv and DIR/validation.csv
    (columns subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks, expression, ...)
    and the pictures under DIR/Manually_Annotated_Images/<subDirectory_filePath>. Expressions 0 Neutral, 1 Happy,
    2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Angry and, with `affectnet_classes=8`, 7 Contempt; codes 8-10 (None,
    Uncertain, No-Face) are left out. The annotated face box is used instead of detection. The test set is not
    public: AffectNet's validation set is the test split here, and validation is carved from training."""
    root = Path(path)
    if affectnet_classes not in (7, 8):
        raise ImageCorpusError(f"affectnet_classes must be 7 or 8; got {affectnet_classes}")
    images = root / "Manually_Annotated_Images"
    splits = {}
    for split, name in (("train", "training.csv"), ("test", "validation.csv")):
        csv_path = _file(root / name, f"AffectNet annotations ({name})")
        rows = []
        with open(csv_path, newline="") as handle:
            reader = csv.DictReader(handle)
            needed = {"subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "expression"}
            missing = needed - set(reader.fieldnames or ())
            if missing:
                raise ImageCorpusError(
                    f"{csv_path}: not an AffectNet annotation file (missing columns {', '.join(sorted(missing))})"
                )
            for number, row in enumerate(reader):
                try:
                    expression = int(row["expression"])
                    x, y, width, height = (
                        int(float(row[key])) for key in ("face_x", "face_y", "face_width", "face_height")
                    )
                except ValueError:
                    raise ImageCorpusError(
                        f"{csv_path}: row {number + 2}: expression and face box must be numbers"
                    ) from None
                if not 0 <= expression < affectnet_classes:
                    continue
                file = images / row["subDirectory_filePath"]
                box = [x, y, x + width - 1, y + height - 1]
                rows.append(
                    {
                        "image": str(_file(file, "AffectNet picture")),
                        "label": expression,
                        "path": str(file),
                        "box": box,
                        "precropped": False,
                    }
                )
        splits[split] = rows
    return _splits(
        splits["train"], None, splits["test"], AFFECTNET_LABELS[:affectnet_classes], validation_share, seed, root
    )


# The image corpora of `avemo train-faces --corpus`, registered in this order (the order the option lists them).
IMAGE_CORPORA = CorpusRegistry("image corpus", ImageCorpusError)
for _corpus in (
    ImageCorpus("folder", read_image_folder),
    ImageCorpus("fer2013", read_fer2013),
    ImageCorpus("ferplus", read_ferplus),
    ImageCorpus("rafdb", read_rafdb),
    ImageCorpus("affectnet", read_affectnet),
):
    IMAGE_CORPORA.register(_corpus)


def image_corpus_names() -> tuple[str, ...]:
    """The registered image corpora, in registration order."""
    return IMAGE_CORPORA.names()


def load_image_corpus(name: str, path, validation_share: float = 0.1, seed: int = 0, **options):
    """The `train` / `validation` / `test` DatasetDict of an image corpus (see `image_corpus_names`); an
    ImageCorpusError names an unknown corpus, a missing file or a bad row."""
    return IMAGE_CORPORA.get(name).read(path, validation_share=validation_share, seed=seed, **options)
