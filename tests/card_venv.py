"""The virtual environment of a model card reader: `python -m venv` (no system site packages), the tested torch pair
(tests/run.sh's pins), then exactly the card template's `pip install` line. Nothing else: no avemo, no pytest.

    python tests/card_venv.py [VENV]    # build it (or find it up to date); tests/test_card_install.py calls ensure()

It lives at $AVEMO_CARD_VENV (default .venv-card-install in the repository) and is reused while the pins, the card's
line and the Python version are unchanged (a stamp, written last, as tests/run.sh does; AVEMO_TEST_FRESH=1 rebuilds
it too); a clean clone builds it from nothing. pip's output goes to VENV.log, whose tail a failure shows. Standard
library and `packaging` only.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from card_install import REPO_ROOT, template_install_arguments, tested_pins

STAMP = ".card-install-stamp"
# torch 2.14.1 with its CUDA libraries is most of it: the built venv measured 5.9 GB on the development machine.
NEEDED_BYTES = int(6.5e9)


class CardVenvError(RuntimeError):
    """The card-install environment could not be built; the message ends with the tail of pip's log."""


def venv_path() -> Path:
    return Path(os.environ.get("AVEMO_CARD_VENV") or REPO_ROOT / ".venv-card-install").absolute()


def log_path(venv: Path) -> Path:
    return venv.with_name(venv.name + ".log")


def installs() -> list[list[str]]:
    """The pip installs, in order: the tested torch pair, then the card's line."""
    return [tested_pins(), template_install_arguments()]


def _stamp() -> str:
    text = repr((installs(), sys.version_info[:2]))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_current(venv: Path) -> bool:
    stamp = venv / STAMP
    return stamp.is_file() and stamp.read_text().strip() == _stamp()


def log_tail(venv: Path, start: int = 0, lines: int = 25) -> str:
    """The end of pip's log from byte `start` on, without the machine's harmless `WARNING: Location ... is
    ignored` lines."""
    with log_path(venv).open("rb") as log:
        log.seek(start)
        text = log.read().decode(errors="replace")
    kept = [line for line in text.splitlines() if "is ignored" not in line]
    return "\n".join(kept[-lines:])


def check_free_space(venv: Path) -> None:
    """Raises CardVenvError before pip starts when the venv's disk has less room than the environment needs (pip
    would fail half-way with "No space left on device")."""
    free = shutil.disk_usage(venv.parent).free
    if free < NEEDED_BYTES:
        raise CardVenvError(
            f"{venv} needs about {NEEDED_BYTES / 1e9:.1f} GB of disk and {venv.parent} has {free / 1e9:.1f} GB free; "
            "remove old virtual environments or set AVEMO_CARD_VENV to a folder on a larger disk"
        )


def build(venv: Path) -> Path:
    """Make the environment from nothing; returns its python. Raises CardVenvError naming the failed step."""
    shutil.rmtree(venv, ignore_errors=True)
    check_free_space(venv)
    python = venv / "bin" / "python"
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    steps = [[sys.executable, "-m", "venv", str(venv)]]
    steps += [[str(python), "-m", "pip", "install", "--progress-bar", "off", *arguments] for arguments in installs()]
    started = time.monotonic()
    with log_path(venv).open("w") as log:
        for step in steps:
            log.write(f"$ {' '.join(step)}\n")
            log.flush()
            start = log_path(venv).stat().st_size  # this step's output begins here
            result = subprocess.run(step, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=venv.parent)
            if result.returncode != 0:
                raise CardVenvError(
                    f"{' '.join(step)} failed (exit {result.returncode}); the end of its output in "
                    f"{log_path(venv)}:\n{log_tail(venv, start)}"
                )
        log.write(f"built in {time.monotonic() - started:.0f} s\n")
    (venv / STAMP).write_text(_stamp() + "\n")  # last: an interrupted build is made again next time
    return python


def ensure(venv: Path | None = None) -> Path:
    """The environment's python, built first unless it is up to date."""
    venv = venv or venv_path()
    if is_current(venv) and os.environ.get("AVEMO_TEST_FRESH") != "1":
        return venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    return build(venv)


if __name__ == "__main__":
    target = Path(sys.argv[1]).absolute() if len(sys.argv) > 1 else venv_path()
    try:
        print(ensure(target))
    except CardVenvError as error:
        sys.exit(str(error))
