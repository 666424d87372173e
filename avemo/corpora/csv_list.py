"""Any other corpus, as a CSV list of its files: `path,label[,speaker]`."""

import csv
import os
from pathlib import Path

from .base import MEDIA_SUFFIXES, Corpus, CorpusError, Row, listing, open_text, register_corpus


def read_csv_list(root: Path) -> tuple[list[Row], str]:
    """A CSV table, given as the file itself or as the folder that holds exactly one *.csv:

        clips.csv                 path,label,speaker        (speaker optional; header case and spaces ignored)
        clips/a.mp4               clips/a.mp4,happy,s01     (paths relative to the CSV, or absolute)

    Every listed file must exist and be a media file; a file listed twice is an error (it could land in two
    splits). The labels are the distinct label values, sorted.
    """
    table = _find_csv(root)
    entries = _read_table(table)
    missing = [Path(path) for path, _, _ in entries if not os.path.isfile(path)]
    if missing:
        raise CorpusError(f"{table}: {len(missing)} listed file(s) not found:\n{listing(None, missing)}")
    rows = [(path, label, speaker, "") for path, label, speaker in entries]
    return rows, f"CSV corpus from {table}: {len(rows)} files"


def csv_labels(root: Path) -> list[str]:
    """The label names of a CSV corpus (the CSV, or the one CSV in the folder), sorted."""
    return sorted({label for _, label, _ in _read_table(_find_csv(root))})


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
    with open_text(table) as handle:
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
            f"{listing(None, bad_suffix)}"
        )
    if not entries:
        raise CorpusError(f"{table}: no rows under the header; expected one row per file: path,label[,speaker]")
    return entries


CSV_LIST = register_corpus(
    Corpus("csv", "a CSV list of clips", read_csv_list, None, labels_from_data=csv_labels, data_dir_may_be_file=True)
)
