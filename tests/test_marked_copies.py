"""Marked copies (`# Copied from ...`, transformers' convention) stay identical to their sources."""

import importlib.util
import re
import textwrap

import pytest

from conftest import REPO_ROOT


def _checker():
    spec = importlib.util.spec_from_file_location("check_copies", REPO_ROOT / "scripts" / "check_copies.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_copies = _checker()


def test_every_marked_copy_matches_its_source():
    assert check_copies.check_copies(REPO_ROOT) == []


def test_the_copies_remote_code_forces_are_marked():
    """The processor is saved without the model's files, and avemo.corpora must not import the model package."""
    marked = {(str(copy.file.relative_to(REPO_ROOT)), copy.source) for copy in check_copies.find_copies(REPO_ROOT)}
    assert {
        ("processing/processing_avemo.py", "modeling_avemo.configuration_avemo.MODALITIES"),
        ("processing/processing_avemo.py", "modeling_avemo.configuration_avemo.AVEmoConfig.uses_visual"),
        ("processing/processing_avemo.py", "modeling_avemo.configuration_avemo.AVEmoConfig.uses_audio"),
        ("processing/face_recipes_avemo.py", "modeling_avemo.face_recipes_avemo"),
        ("avemo/corpora/afew.py", "modeling_avemo.configuration_avemo.AFEW_LABELS"),
    } <= marked


def _write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def small_repo(tmp_path):
    _write(
        tmp_path,
        "pkg/source.py",
        """
        NAMES = ("a", "b")


        class Thing:
            def size(self) -> int:
                return len(NAMES)

            @property
            def first(self) -> str:
                return NAMES[0]
        """,
    )
    _write(tmp_path, "pkg/whole.py", "X = 1\nY = 2\n")
    _write(tmp_path, "other/whole_copy.py", "# Copied from pkg.whole\nX = 1\nY = 2\n")
    _write(
        tmp_path,
        "other/copy.py",
        """
        # Copied from pkg.source.NAMES
        NAMES = ("a", "b")


        class Other:
            # Copied from pkg.source.Thing.first
            @property
            def first(self) -> str:
                return NAMES[0]

            # Copied from pkg.source.Thing.size with NAMES->ITEMS
            def size(self) -> int:
                return len(ITEMS)
        """,
    )
    return tmp_path


def test_checker_accepts_exact_copies(small_repo):
    assert len(check_copies.find_copies(small_repo)) == 4
    assert check_copies.check_copies(small_repo) == []


@pytest.mark.parametrize(
    "file, old, new, message",
    [
        ("other/copy.py", 'NAMES = ("a", "b")', 'NAMES = ("b", "a")', "other/copy.py:2: differs from pkg.source.NAMES"),
        (
            "other/copy.py",
            "return NAMES[0]",
            "return NAMES[-1]",
            r"copy.py:7: differs from .*Thing.first .*NAMES\[-1\]",
        ),
        ("other/copy.py", "return len(ITEMS)", "return len(NAMES)", "copy.py:12: differs from .*Thing.size"),
        ("other/copy.py", "Thing.first", "Thing.last", "'last' is not defined in pkg/source.py"),
        ("other/copy.py", "pkg.source.NAMES", "pkg.absent.NAMES", "no file pkg/absent/NAMES.py"),
        ("other/copy.py", "pkg.source.NAMES\n", "pkg.source.NAMES\n\n", "not directly above"),
        ("other/whole_copy.py", "Y = 2", "Y = 3", "whole_copy.py:1: differs from pkg.whole"),
        ("pkg/whole.py", "Y = 2", "Y = 2\nZ = 3", "the copy has 2 lines, the source 3"),
    ],
)
def test_checker_reports_drift(small_repo, file, old, new, message):
    path = small_repo / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    problems = check_copies.check_copies(small_repo)
    assert len(problems) == 1 and re.search(message, problems[0]), problems
