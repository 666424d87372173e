"""What every `avemo` command shares: the --debug flag, defaults shown in every help text, one-line sizes and
file checks, transformers kept quiet while a command runs, and leaving the process after a distributed run."""

import argparse
import sys
from pathlib import Path


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Add `--debug` (tracebacks instead of one-line errors) to a parser."""
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every option's help ends with its default (unless it says one already), in every subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                show_defaults(subparser)
            continue
        default = action.default
        if (
            action.help in (None, argparse.SUPPRESS)
            or default in (None, False, argparse.SUPPRESS)
            or "default" in action.help
        ):
            continue
        action.help += f" (default: {default})"


def megabytes(size: int) -> str:
    """A file size for people: "1.23 MB", or "4.5 kB" under 10 kB."""
    return f"{size / 1e6:.2f} MB" if size >= 10_000 else f"{size / 1e3:.1f} kB"


def path_problem(path: str) -> str | None:
    """Why a path cannot be a media file, found without importing anything heavy (the same words as the
    processor's errors)."""
    file = Path(path)
    if not file.exists():
        return f"{path}: file not found"
    if file.is_dir():
        return f"{path}: is a folder, not a media file"
    if file.stat().st_size == 0:
        return f"{path}: file is empty"
    return None


def training_summary(metrics: dict) -> str:
    """The accuracy, UAR and macro F1 of a metrics dict, as "accuracy 0.5000, uar 0.4000, macro_f1 0.3000"."""
    return ", ".join(f"{key} {value:.4f}" for key, value in metrics.items() if key in ("accuracy", "uar", "macro_f1"))


def quiet_libraries():
    """The CLI reports for itself: no weight-loading bars or load reports from transformers. Returns a function
    that puts transformers' logging back as it was (for `main` called in a process that goes on: a notebook, a
    test)."""
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

        def restore():
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()

        return restore
    # Read by transformers when it is imported; importing it here would cost a second for nothing.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return lambda: None


def exit_process(code: int) -> None:
    """Leave the process; after a distributed (gloo/NCCL) run, tear the group down and skip interpreter
    finalisation, which can otherwise abort ("terminate called without an active exception")."""
    dist = sys.modules.get("torch.distributed")  # never imported just to find out (it takes seconds)
    distributed = dist is not None and dist.is_available() and dist.is_initialized()
    if not distributed:
        sys.exit(code)
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    import os

    os._exit(code)
