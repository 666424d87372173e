"""Corpus readers and speaker-independent splits, on fake corpora of empty files and the real CREMA-D sample."""

import os
import warnings
from pathlib import Path

import pytest
from datasets import ClassLabel, Dataset, DatasetDict

from avemo.corpora import CORPORA, CorpusError, corpus_labels, load_corpus, speaker_split

CREMA_D_SAMPLE = [f"1002_DFA_{emotion}_XX.mp3" for emotion in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")]
RAVDESS_LABELS = ["Neutral", "Calm", "Happy", "Sad", "Angry", "Fearful", "Disgust", "Surprised"]


def touch(root: Path, *names: str) -> list[Path]:
    """Empty files (readers never open media), creating folders on the way."""
    paths = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        paths.append(path)
    return paths


def ravdess_name(modality=1, emotion=1, actor=1, statement=1, repetition=1, suffix=".mp4") -> str:
    return f"{modality:02d}-01-{emotion:02d}-01-{statement:02d}-{repetition:02d}-{actor:02d}{suffix}"


def labels_of(dataset: Dataset) -> list[str]:
    return dataset.features["label"].int2str(list(dataset["label"]))


@pytest.fixture
def crema_d(tmp_path, shared_data) -> Path:
    """The six real CREMA-D clips and the real summaryTable.csv, symlinked into a fresh folder."""
    folder = tmp_path / "crema-d"
    folder.mkdir()
    source = shared_data / "audio" / "crema-d"
    for name in CREMA_D_SAMPLE + ["summaryTable.csv"]:
        os.symlink(source / name, folder / name)
    return folder


# ---------------------------------------------------------------- names, labels, data_dir


def test_corpora_and_labels():
    assert CORPORA == ("ravdess", "crema-d", "afew", "csv")
    assert corpus_labels("ravdess") == RAVDESS_LABELS
    assert corpus_labels("crema-d") == ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad"]
    assert corpus_labels("afew") == ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"]
    assert corpus_labels("CREMA-D") == corpus_labels("crema-d")  # names are case-insensitive
    corpus_labels("afew").append("x")  # callers get a copy
    assert len(corpus_labels("afew")) == 7


def test_unknown_corpus_lists_the_known_ones(tmp_path):
    with pytest.raises(CorpusError, match="unknown corpus 'iemocap'.*ravdess, crema-d, afew, csv"):
        load_corpus("iemocap", tmp_path)
    with pytest.raises(CorpusError, match="unknown corpus"):
        corpus_labels("iemocap")
    assert issubclass(CorpusError, ValueError)


def test_missing_data_dir_is_named(tmp_path):
    with pytest.raises(CorpusError, match=r"nowhere.*does not exist"):
        load_corpus("ravdess", tmp_path / "nowhere")
    with pytest.raises(CorpusError, match="expects a folder"):
        load_corpus("afew", touch(tmp_path, "file.mp4")[0])


# ---------------------------------------------------------------- RAVDESS


def test_ravdess_labels_speakers_columns_and_order(tmp_path):
    names = [f"Actor_02/{ravdess_name(emotion=emotion, actor=2)}" for emotion in range(8, 0, -1)]
    names.append(f"Video_Speech_Actor_01/Actor_01/{ravdess_name(emotion=5, actor=1)}")
    touch(tmp_path, *names)
    dataset = load_corpus("ravdess", tmp_path)

    assert dataset.column_names == ["path", "label", "speaker", "corpus", "split"]
    assert isinstance(dataset.features["label"], ClassLabel)
    assert dataset.features["label"].names == RAVDESS_LABELS
    assert list(dataset["path"]) == sorted(dataset["path"])
    assert all(os.path.isabs(path) for path in dataset["path"])
    assert labels_of(dataset) == RAVDESS_LABELS + ["Angry"]  # Actor_02/01-01-01... sorts before Video_Speech_...
    assert list(dataset["speaker"]) == ["02"] * 8 + ["01"]
    assert set(dataset["corpus"]) == {"ravdess"} and set(dataset["split"]) == {""}


def test_ravdess_keeps_audio_video_only_and_skips_other_files(tmp_path):
    touch(
        tmp_path,
        ravdess_name(modality=1, emotion=3),
        ravdess_name(modality=1, emotion=4, suffix=".MP4"),  # suffixes match in any case
        ravdess_name(modality=2, emotion=3),
        ravdess_name(modality=3, emotion=3, suffix=".wav"),
        ".hidden.mp4",
        "._01-01-03-01-01-01-01.mp4",
        ".cache/01-01-05-01-01-01-01.mp4",
        "README.txt",
        "01-01-03-01-01-01-01.json",
    )
    dataset = load_corpus("ravdess", tmp_path)
    assert [Path(path).name for path in dataset["path"]] == ["01-01-03-01-01-01-01.mp4", "01-01-04-01-01-01-01.MP4"]
    assert labels_of(dataset) == ["Happy", "Sad"]
    assert "skipped 1 audio-only, 1 video-only" in dataset.info.description


def test_ravdess_without_audio_video_files_says_what_it_saw(tmp_path):
    touch(
        tmp_path,
        ravdess_name(modality=2),
        ravdess_name(modality=3, suffix=".wav"),
        ravdess_name(modality=3, actor=3),
    )
    with pytest.raises(CorpusError, match=r"modality 01.*2 audio-only, 1 video-only"):
        load_corpus("ravdess", tmp_path)


def test_ravdess_empty_folder(tmp_path):
    touch(tmp_path, "notes.txt")
    with pytest.raises(CorpusError, match=f"no RAVDESS audio-video files found under {tmp_path}"):
        load_corpus("ravdess", tmp_path)


def test_ravdess_unparsed_names_are_listed_up_to_twenty(tmp_path):
    touch(tmp_path, ravdess_name(), "Actor_01/clip.mp4", "01-01-09-01-01-01-01.mp4", "01-01-01-01-01-01-25.mp4")
    with pytest.raises(CorpusError) as error:
        load_corpus("ravdess", tmp_path)
    message = str(error.value)
    assert "3 media file(s)" in message
    for name in ("Actor_01/clip.mp4", "01-01-09-01-01-01-01.mp4", "01-01-01-01-01-01-25.mp4"):
        assert name in message
    assert "Modality-VocalChannel-Emotion-Intensity-Statement-Repetition-Actor" in message

    touch(tmp_path, *(f"bad_{index:02d}.mp4" for index in range(25)))
    with pytest.raises(CorpusError, match=r"bad_16\.mp4\n  \.\.\. and 8 more") as error:
        load_corpus("ravdess", tmp_path)
    assert "bad_17.mp4" not in str(error.value)


# ---------------------------------------------------------------- CREMA-D


def test_crema_d_real_files_acted_labels(crema_d):
    dataset = load_corpus("crema-d", crema_d)
    assert dataset.features["label"].names == corpus_labels("crema-d")
    assert [Path(path).name for path in dataset["path"]] == sorted(CREMA_D_SAMPLE)
    assert labels_of(dataset) == ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad"]
    assert set(dataset["speaker"]) == {"1002"} and set(dataset["corpus"]) == {"crema-d"}
    # Symlinked files keep their path under data_dir.
    assert all(path.startswith(str(crema_d)) for path in dataset["path"])


@pytest.mark.parametrize(
    "modality, sad_label, count",
    [("voice", "Neutral", 6), ("face", None, 5), ("multimodal", "Neutral", 6)],
)
def test_crema_d_crowd_labels_from_the_real_table(crema_d, modality, sad_label, count):
    dataset = load_corpus("crema-d", crema_d, crowd_labels=modality)
    labels = dict(zip((Path(path).name for path in dataset["path"]), labels_of(dataset)))
    assert len(dataset) == count
    assert labels.get("1002_DFA_SAD_XX.mp3") == sad_label  # voice N, face tie N:S, multimodal N
    assert labels["1002_DFA_ANG_XX.mp3"] == "Angry"
    assert labels["1002_DFA_HAP_XX.mp3"] == "Happy"


def test_crema_d_crowd_labels_drop_files_missing_from_the_table(crema_d, tmp_path):
    nested = tmp_path / "nested"
    (nested / "tables").mkdir(parents=True)
    os.symlink(crema_d / "summaryTable.csv", nested / "tables" / "summaryTable.csv")  # found in a sub-folder
    os.symlink(crema_d / "1002_DFA_ANG_XX.mp3", nested / "1002_DFA_ANG_XX.mp3")
    touch(nested, "AudioWAV/9999_DFA_ANG_XX.wav")
    dataset = load_corpus("crema-d", nested, crowd_labels="face")
    assert [Path(path).name for path in dataset["path"]] == ["1002_DFA_ANG_XX.mp3"]
    assert "1 not in" in dataset.info.description


def test_crema_d_crowd_labels_with_nothing_left(tmp_path, crema_d):
    folder = tmp_path / "unknown"
    touch(folder, "9999_DFA_ANG_XX.flv")
    os.symlink(crema_d / "summaryTable.csv", folder / "summaryTable.csv")
    with pytest.raises(CorpusError, match="no CREMA-D files left.*1 not in"):
        load_corpus("crema-d", folder, crowd_labels="voice")


def test_crema_d_crowd_label_errors(tmp_path):
    touch(tmp_path, "1001_DFA_ANG_XX.flv")
    with pytest.raises(CorpusError, match=f"summaryTable.csv, not found under {tmp_path}"):
        load_corpus("crema-d", tmp_path, crowd_labels="voice")
    with pytest.raises(CorpusError, match="voice, face, multimodal, not 'audio'"):
        load_corpus("crema-d", tmp_path, crowd_labels="audio")
    with pytest.raises(CorpusError, match="crema-d corpus only"):
        load_corpus("ravdess", tmp_path, crowd_labels="voice")

    (tmp_path / "summaryTable.csv").write_text('"","FileName","VoiceVote"\n"1","1001_DFA_ANG_XX","Q"\n')
    with pytest.raises(CorpusError, match=r"summaryTable.csv, line 2: VoiceVote 'Q'"):
        load_corpus("crema-d", tmp_path, crowd_labels="voice")
    with pytest.raises(CorpusError, match="expected the columns FileName and FaceVote"):
        load_corpus("crema-d", tmp_path, crowd_labels="face")


def test_crema_d_unparsed_names_and_empty_folder(tmp_path):
    touch(tmp_path, "1001_DFA_ANG_XX.flv", "1001_dfa_ANG_XX.flv", "sub/1001_DFA_JOY_XX.wav", "101_DFA_ANG_XX.mp3")
    with pytest.raises(CorpusError) as error:
        load_corpus("crema-d", tmp_path)
    message = str(error.value)
    assert "3 media file(s)" in message and "ActorID_Sentence_Emotion_Level" in message
    assert all(name in message for name in ("1001_dfa_ANG_XX.flv", "sub/1001_DFA_JOY_XX.wav", "101_DFA_ANG_XX.mp3"))
    assert "  1001_DFA_ANG_XX.flv" not in message.splitlines()  # the valid file is not listed

    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no CREMA-D media files found"):
        load_corpus("crema-d", tmp_path / "empty")


# ---------------------------------------------------------------- AFEW


def test_afew_class_folders_case_insensitive(tmp_path):
    touch(tmp_path, "angry/a.avi", "SURPRISE/b.avi", "Neutral/deeper/c.mkv", "Happy/.d.avi", "Happy/e.txt")
    dataset = load_corpus("afew", tmp_path)
    assert dataset.features["label"].names == corpus_labels("afew")
    assert labels_of(dataset) == ["Neutral", "Surprise", "Angry"]  # sorted by path: Neutral < SURPRISE < angry
    assert set(dataset["speaker"]) == {""} and set(dataset["split"]) == {""}


@pytest.mark.parametrize("train, val", [("Train", "Val"), ("train", "validation"), ("TRAIN", "val")])
def test_afew_split_folders(tmp_path, train, val):
    touch(tmp_path, f"{train}/Fear/a.avi", f"{train}/sad/b.avi", f"{val}/Disgust/c.avi")
    dataset = load_corpus("afew", tmp_path)
    names = [Path(path).name for path in dataset["path"]]
    rows = dict(zip(names, zip(dataset["split"], labels_of(dataset))))
    assert rows == {"a.avi": ("train", "Fear"), "b.avi": ("train", "Sad"), "c.avi": ("validation", "Disgust")}


def test_afew_misplaced_files_are_listed(tmp_path):
    touch(tmp_path, "Angry/ok.avi", "stray.avi", "Contempt/x.avi", "Train/y.avi", "notes.txt")
    with pytest.raises(CorpusError) as error:
        load_corpus("afew", tmp_path)
    message = str(error.value)
    assert all(name in message for name in ("stray.avi", "Contempt/x.avi", "Train/y.avi"))
    assert "ok.avi" not in message and "notes.txt" not in message
    assert "Angry Disgust Fear Happy Neutral Sad Surprise" in message


def test_afew_mixed_layout_and_empty_folder(tmp_path):
    touch(tmp_path / "mixed", "Angry/a.avi", "Train/Angry/b.avi")
    with pytest.raises(CorpusError, match="mixes class folders with Train/Val"):
        load_corpus("afew", tmp_path / "mixed")
    (tmp_path / "empty" / "Angry").mkdir(parents=True)
    with pytest.raises(CorpusError, match="no AFEW media files found under"):
        load_corpus("afew", tmp_path / "empty")


# ---------------------------------------------------------------- CSV


def test_csv_file_or_folder_relative_and_absolute_paths(tmp_path):
    elsewhere = touch(tmp_path, "elsewhere/z.wav")[0]
    touch(tmp_path, "corpus/clips/b.mp4", "corpus/a.mp4")
    table = tmp_path / "corpus" / "labels.csv"
    table.write_text(f"path, Label ,speaker\nclips/b.mp4,sad,s2\na.mp4,happy,s1\n{elsewhere},angry,s3\n")
    for data_dir in (table, table.parent):
        dataset = load_corpus("csv", data_dir)
        assert dataset.features["label"].names == ["angry", "happy", "sad"]
        assert corpus_labels("csv", data_dir) == ["angry", "happy", "sad"]
        expected = [tmp_path / "corpus/a.mp4", tmp_path / "corpus/clips/b.mp4", elsewhere]
        assert list(dataset["path"]) == [str(path) for path in expected]
        assert labels_of(dataset) == ["happy", "sad", "angry"]
        assert list(dataset["speaker"]) == ["s1", "s2", "s3"]
        assert set(dataset["corpus"]) == {"csv"} and set(dataset["split"]) == {""}


def test_csv_without_speaker_column(tmp_path):
    touch(tmp_path, "a.wav")
    (tmp_path / "t.csv").write_text("\ufeffpath,label\na.wav,calm\n")  # with a byte-order mark, as Excel writes
    dataset = load_corpus("csv", tmp_path)
    assert list(dataset["speaker"]) == [""] and labels_of(dataset) == ["calm"]


def test_csv_errors(tmp_path):
    with pytest.raises(CorpusError, match="pass data_dir"):
        corpus_labels("csv")
    with pytest.raises(CorpusError, match="exactly one \\*.csv.*found 0"):
        load_corpus("csv", tmp_path)

    table = tmp_path / "t.csv"
    table.write_text("")
    with pytest.raises(CorpusError, match="t.csv: empty CSV"):
        load_corpus("csv", table)
    table.write_text("file,emotion\na.mp4,x\n")
    with pytest.raises(CorpusError, match="t.csv: missing column\\(s\\) path, label.*found file,emotion"):
        load_corpus("csv", table)
    table.write_text("path,label\n")
    with pytest.raises(CorpusError, match="t.csv: no rows"):
        load_corpus("csv", table)
    table.write_text("path,label\ngone.mp4,x\nthere.mp4,y\nalso_gone.wav,y\n")
    touch(tmp_path, "there.mp4")
    with pytest.raises(CorpusError, match="2 listed file\\(s\\) not found") as error:
        load_corpus("csv", table)
    message = str(error.value)
    assert "gone.mp4" in message and "also_gone.wav" in message and "there.mp4" not in message
    table.write_text("path,label\nthere.mp4,x\nnotes.txt,y\n")
    with pytest.raises(CorpusError, match="(?s)not media files.*notes.txt"):
        load_corpus("csv", table)
    table.write_text("path,label\nthere.mp4,x\n./there.mp4,y\n")
    with pytest.raises(CorpusError, match="line 3: ./there.mp4 is listed twice"):
        load_corpus("csv", table)
    table.write_text("path,label\nthere.mp4,\n")
    with pytest.raises(CorpusError, match="line 2: empty path or label"):
        load_corpus("csv", table)

    (tmp_path / "second.csv").write_text("path,label\n")
    with pytest.raises(CorpusError, match="found 2: second.csv, t.csv"):
        load_corpus("csv", tmp_path)


# ---------------------------------------------------------------- speaker_split


def speakers_of(split: Dataset) -> set[str]:
    return set(split["speaker"])


def assert_speaker_disjoint(splits: DatasetDict, total: int):
    assert list(splits) == ["train", "validation", "test"]
    assert sum(len(split) for split in splits.values()) == total
    train, validation, test = (speakers_of(splits[name]) for name in ("train", "validation", "test"))
    assert not (train & validation) and not (train & test) and not (validation & test)


def test_ravdess_split_follows_the_protocol(tmp_path):
    touch(tmp_path, *(ravdess_name(emotion=emotion, actor=actor) for actor in range(1, 25) for emotion in (1, 5)))
    dataset = load_corpus("ravdess", tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the full corpus must not warn
        splits = speaker_split(dataset, "ravdess")
    assert speakers_of(splits["train"]) == {f"{actor:02d}" for actor in range(1, 17)}
    assert speakers_of(splits["validation"]) == {"17", "18", "19", "20"}
    assert speakers_of(splits["test"]) == {"21", "22", "23", "24"}
    assert [len(splits[name]) for name in ("train", "validation", "test")] == [32, 8, 8]
    assert list(splits["train"]["path"]) == sorted(splits["train"]["path"])
    assert_speaker_disjoint(splits, len(dataset))


def test_ravdess_split_warns_about_an_empty_split(tmp_path):
    touch(tmp_path, ravdess_name(actor=1), ravdess_name(actor=18))
    with pytest.warns(UserWarning, match="RAVDESS test split is empty: no files from actors 21-24"):
        splits = speaker_split(load_corpus("ravdess", tmp_path), "ravdess")
    assert len(splits["test"]) == 0 and speakers_of(splits["validation"]) == {"18"}


def test_speaker_split_by_shuffled_speakers(tmp_path):
    names = [f"{1001 + actor}_DFA_{emotion}_XX.flv" for actor in range(20) for emotion in ("ANG", "SAD", "NEU")]
    touch(tmp_path, *names)
    dataset = load_corpus("crema-d", tmp_path)
    splits = speaker_split(dataset, "crema-d", seed=0)
    assert_speaker_disjoint(splits, len(dataset))
    assert [len(speakers_of(splits[name])) for name in ("train", "validation", "test")] == [16, 2, 2]
    # Seeded: the same seed gives the same split, another seed (almost surely) another one.
    assert speakers_of(speaker_split(dataset, "crema-d", seed=0)["test"]) == speakers_of(splits["test"])
    assert speakers_of(speaker_split(dataset, "crema-d", seed=1)["test"]) != speakers_of(splits["test"])


def test_csv_split_with_three_speakers_gives_one_each(tmp_path):
    touch(tmp_path, *(f"{speaker}{index}.wav" for speaker in "abc" for index in range(3)))
    rows = "".join(f"{speaker}{index}.wav,x,{speaker}\n" for speaker in "abc" for index in range(3))
    (tmp_path / "t.csv").write_text("path,label,speaker\n" + rows)
    splits = speaker_split(load_corpus("csv", tmp_path), "csv")
    assert_speaker_disjoint(splits, 9)
    assert [len(splits[name]) for name in ("train", "validation", "test")] == [3, 3, 3]


def test_split_refuses_partial_speaker_ids(tmp_path):
    touch(tmp_path, "a.wav", "b.wav", "c.wav")
    (tmp_path / "t.csv").write_text("path,label,speaker\na.wav,x,s1\nb.wav,x,\nc.wav,x,s2\n")
    with pytest.raises(CorpusError, match="1 of 3 rows have no speaker"):
        speaker_split(load_corpus("csv", tmp_path), "csv")


def test_afew_split_uses_the_folders(tmp_path):
    touch(tmp_path, "Train/Angry/a.avi", "Train/Happy/b.avi", "Val/Angry/c.avi", "Val/Sad/d.avi")
    splits = speaker_split(load_corpus("afew", tmp_path), "afew")
    assert [Path(path).name for path in splits["train"]["path"]] == ["a.avi", "b.avi"]
    assert [Path(path).name for path in splits["validation"]["path"]] == ["c.avi", "d.avi"]
    assert list(splits["test"]["path"]) == list(splits["validation"]["path"])


def test_fallback_is_stratified_and_warns(tmp_path):
    touch(tmp_path, *(f"Angry/{index}.avi" for index in range(10)), *(f"Sad/{index}.avi" for index in range(20)))
    dataset = load_corpus("afew", tmp_path)
    with pytest.warns(UserWarning, match="no speaker ids.*not speaker-independent"):
        splits = speaker_split(dataset, "afew", seed=3)
    counts = {name: [labels_of(split).count(label) for label in ("Angry", "Sad")] for name, split in splits.items()}
    assert counts == {"train": [8, 16], "validation": [1, 2], "test": [1, 2]}
    paths = [path for split in splits.values() for path in split["path"]]
    assert sorted(paths) == sorted(dataset["path"])  # every file once


def test_fallback_with_one_speaker_gives_every_split_a_file(crema_d):
    dataset = load_corpus("crema-d", crema_d)
    with pytest.warns(UserWarning, match="only 1 speaker.*not speaker-independent"):
        splits = speaker_split(dataset, "crema-d")
    assert [len(splits[name]) for name in ("train", "validation", "test")] == [4, 1, 1]
    assert len({path for split in splits.values() for path in split["path"]}) == 6


def test_fallback_with_fewer_than_three_files(tmp_path):
    touch(tmp_path, "Fear/a.avi", "Fear/b.avi")
    with pytest.warns(UserWarning, match="not speaker-independent; with 2 file\\(s\\) every split holds all of them"):
        splits = speaker_split(load_corpus("afew", tmp_path), "afew")
    assert all(len(split) == 2 for split in splits.values())


def test_split_needs_the_columns():
    with pytest.raises(CorpusError, match="lacks speaker"):
        speaker_split(Dataset.from_dict({"label": [0]}), "csv")
