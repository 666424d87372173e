import ast
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Nothing may reach the hub during tests; remote code is cached under a private folder.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO_ROOT = Path(__file__).resolve().parents[1]

# A tiny AVEmo config (every branch, a few channels) for tests that need a real model folder fast.
TINY = {
    "face_stage_depths": [1, 1, 1, 1],
    "face_stage_widths": [4, 4, 8, 8],
    "face_embedding_size": 16,
    "audio_channels": [4, 8, 8, 8, 8],
    "transformer_attention_size": 8,
    "audio_attention_hidden_size": 8,
    "fbp_k": 2,
    "fbp_o": 6,
}
SHARED_DATA = (REPO_ROOT.parent / "shared" / "data").resolve()
# Modules transformers' sdist tests import but the sdist lacks, loaded by test_transformers_common.py: no tests there.
collect_ignore = ["transformers_stand_ins"]


@pytest.fixture(scope="session", autouse=True)
def _private_hf_modules_cache(tmp_path_factory):
    os.environ["HF_MODULES_CACHE"] = str(tmp_path_factory.mktemp("hf_modules"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the real media fixtures are expected at {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA


def run_avemo(*args, cwd=None, timeout: float = 600) -> "subprocess.CompletedProcess":
    """The `avemo` command in a subprocess, run outside the repository (by default) so that it uses the
    installed package, as a user's shell would."""
    return subprocess.run(
        [sys.executable, "-m", "avemo.cli", *map(str, args)],
        cwd=cwd or tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def avemo_here(capsys, *args) -> "subprocess.CompletedProcess":
    """The `avemo` command run in this process (no interpreter start-up, about 6 s of imports): for error paths,
    which stop before a model loads. Returns what `run_avemo` does; transformers' log level is put back."""
    from transformers.utils import logging as hf_logging

    from avemo.cli import main

    level = hf_logging.get_verbosity()
    capsys.readouterr()
    try:
        code = main([str(arg) for arg in args])
    finally:
        hf_logging.set_verbosity(level)
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(["avemo", *map(str, args)], code, captured.out, captured.err)


def run_without_project(code: str, cwd: Path, timeout: float = 300) -> "subprocess.CompletedProcess":
    """Run Python code in a fresh interpreter where neither `modeling_avemo` nor `avemo` can be imported,
    as for a user who only has transformers and a downloaded model folder."""
    blocker = (
        "import sys\n"
        "class _NoAvemo:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('modeling_avemo', 'avemo'):\n"
        "            raise ImportError(f'{name} is hidden for this test')\n"
        "sys.meta_path.insert(0, _NoAvemo())\n"
        "sys.path = [p for p in sys.path if p not in ('', '.', %r)]\n" % str(REPO_ROOT)
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", blocker + code], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def heavy_modules_after(code: str) -> list[str]:
    """Which of datasets, torch, transformers and modeling_avemo a fresh interpreter has imported after `code`."""
    probe = (
        code
        + "\nimport sys\n"
        + "print(sorted(m for m in ('datasets', 'torch', 'transformers', 'modeling_avemo') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])  # a printed list of module names
