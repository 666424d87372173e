"""The corpus registry: one record per corpus, looked up by load_corpus, speaker_split and the CLI."""

import pytest
from conftest import heavy_modules_after

from avemo.corpora import (
    CORPORA,
    Corpus,
    CorpusError,
    base,
    corpus_labels,
    corpus_names,
    get_corpus,
    load_corpus,
    register_corpus,
    speaker_split,
)

BUILT_IN = ("ravdess", "crema-d", "afew", "csv")


def test_every_corpus_documents_its_layout():
    for name in CORPORA:
        corpus = get_corpus(name)
        assert corpus.name == name and corpus.title
        # The reader's docstring shows the folder layout (lhotse's prepare_* style): a line under "root/" or a file.
        assert "root" in corpus.layout or ".csv" in corpus.layout, name
        assert (corpus.labels is None) != (corpus.labels_from_data is None)


def test_cli_offers_exactly_the_registered_corpora():
    from avemo.cli import build_parser

    parser = build_parser()
    subcommands = next(action for action in parser._actions if action.dest == "command").choices
    for command in ("train", "evaluate"):
        option = next(action for action in subcommands[command]._actions if action.dest == "corpus")
        assert tuple(option.choices) == BUILT_IN


def test_importing_the_corpora_stays_light():
    """The CLI reads corpus names when it builds its parser: that must not import datasets, torch or the model."""
    assert heavy_modules_after("import avemo.corpora") == []


@pytest.fixture
def toy_corpus(monkeypatch):
    """A corpus added by one record: files named SPEAKER_LABEL.wav directly in the folder."""
    monkeypatch.setattr(base, "_REGISTRY", base._REGISTRY.copy())

    def read_toy(root):
        """root/
        s1_yes.wav   s1_no.wav   s2_yes.wav ...      SPEAKER_LABEL.wav
        """
        rows = [(str(path), path.stem.split("_")[1], path.stem.split("_")[0], "") for path in base.media_files(root)]
        return rows, f"toy corpus: {len(rows)} files"

    return register_corpus(Corpus("toy", "Toy", read_toy, ("no", "yes")))


def test_a_new_corpus_is_one_record(toy_corpus, tmp_path):
    for speaker in ("s1", "s2", "s3", "s4"):
        for label in ("yes", "no"):
            (tmp_path / f"{speaker}_{label}.wav").touch()
    assert "toy" in corpus_names() and corpus_labels("Toy") == ["no", "yes"]
    dataset = load_corpus("toy", tmp_path)
    assert len(dataset) == 8 and dataset.features["label"].names == ["no", "yes"]
    assert set(dataset["corpus"]) == {"toy"}
    splits = speaker_split(dataset, "toy", seed=0)
    speakers = [set(splits[split]["speaker"]) for split in ("train", "validation", "test")]
    assert sum(map(len, speakers)) == 4 and len(set.union(*speakers)) == 4  # each speaker in exactly one split
    with pytest.raises(CorpusError, match="crowd_labels applies to the crema-d corpus only, not to 'toy'"):
        load_corpus("toy", tmp_path, crowd_labels="voice")

    from avemo.cli import build_parser

    arguments = ["train", "--data-dir", str(tmp_path), "--corpus", "toy", "--output-dir", str(tmp_path / "out")]
    args = build_parser().parse_args(arguments)
    assert args.corpus == "toy"


def test_a_record_needs_labels_or_a_way_to_read_them(monkeypatch):
    monkeypatch.setattr(base, "_REGISTRY", base._REGISTRY.copy())
    with pytest.raises(ValueError, match="either fixed labels or labels_from_data"):
        register_corpus(Corpus("broken", "Broken", lambda root: ([], ""), None))
    with pytest.raises(ValueError, match="lower case"):
        register_corpus(Corpus("Broken", "Broken", lambda root: ([], ""), ("a",)))
