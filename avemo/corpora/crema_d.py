"""CREMA-D (Cao et al., 2014): 91 actors, 6 emotions, with crowd-perceived labels per modality."""

import csv
import re
from pathlib import Path

from .base import Corpus, CorpusError, Row, find_file, media_files, open_text, raise_unparsed, register_corpus

CREMA_D_LABELS = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad")
CREMA_D_EMOTIONS = {"ANG": "Angry", "DIS": "Disgust", "FEA": "Fear", "HAP": "Happy", "NEU": "Neutral", "SAD": "Sad"}
CREMA_D_PATTERN = re.compile(r"(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_(LO|MD|HI|XX)")
CREMA_D_HINT = (
    "CREMA-D names are ActorID_Sentence_Emotion_Level: 4 digits, 3 capital letters, one of "
    "ANG DIS FEA HAP NEU SAD, one of LO MD HI XX (e.g. 1001_DFA_ANG_XX.flv)"
)
CREMA_D_TABLE = "summaryTable.csv"
CREMA_D_VOTE_COLUMNS = {"voice": "VoiceVote", "face": "FaceVote", "multimodal": "MultiModalVote"}
CREMA_D_VOTES = {"A": "Angry", "D": "Disgust", "F": "Fear", "H": "Happy", "N": "Neutral", "S": "Sad"}


def read_crema_d(root: Path, crowd_labels: str | None = None) -> tuple[list[Row], str]:
    """CREMA-D as distributed: media files anywhere under the folder, named ActorID_Sentence_Emotion_Level.

        root/
            VideoFlash/1001_DFA_ANG_XX.flv    (or AudioWAV/1001_DFA_ANG_XX.wav, ...; any sub-folders)
            processedResults/summaryTable.csv (anywhere under root; read only for crowd_labels)

    The label is the acted emotion, the speaker the actor id. With crowd_labels ("voice", "face" or "multimodal")
    the label is the emotion the crowd perceived in that modality, from summaryTable.csv's VoiceVote, FaceVote or
    MultiModalVote column; files with a tied vote or missing from the table are dropped.
    """
    parsed, unparsed = [], []
    for path in media_files(root):
        match = CREMA_D_PATTERN.fullmatch(path.stem)
        if match is None:
            unparsed.append(path)
        else:
            parsed.append((path, match.group(1), CREMA_D_EMOTIONS[match.group(3)]))
    raise_unparsed(root, unparsed, "CREMA-D", CREMA_D_HINT)
    if not parsed:
        raise CorpusError(f"no CREMA-D media files found under {root}")
    if crowd_labels is None:
        rows = [(str(path), label, actor, "") for path, actor, label in parsed]
        return rows, f"CREMA-D from {root}: {len(rows)} files, acted labels"

    table = find_file(root, CREMA_D_TABLE)
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
    with open_text(table) as handle:
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


# No split of its own: the generic speaker split shuffles the actors.
CREMA_D = register_corpus(
    Corpus("crema-d", "CREMA-D", read_crema_d, CREMA_D_LABELS, crowd_labels=tuple(CREMA_D_VOTE_COLUMNS))
)
