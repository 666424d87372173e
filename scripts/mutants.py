#!/usr/bin/env python
"""Mutation check: named wrong versions of the science, and the tests that must fail on each.

Each mutant is one text replacement (file, old text, new text) in the source. It is applied to a copy of the
*installed* packages (`avemo`, `modeling_avemo`) in a temporary folder that is put first on PYTHONPATH, so the
installed package, the repository and every other run stay untouched; the CLI subprocesses and remote-code
loads of the tests see the mutated copy too. The mutant's focused tests then run with pytest: a mutant is
*killed* when they fail, *survives* when they pass.

Not part of the normal pytest run (it is slow: several minutes). Run it on demand with the test environment:

    .venv-test/bin/python scripts/mutants.py              # every mutant, focused tests
    .venv-test/bin/python scripts/mutants.py --list       # names and what each one breaks
    .venv-test/bin/python scripts/mutants.py --only fbp-no-signed-sqrt resume-restarts-from-step-0
    # the whole relevant test files of an older revision of the tests (e.g. before issue 12):
    .venv-test/bin/python scripts/mutants.py --tests-from-commit 4e3d83b --relevant-files

Reinstall after editing the source (`pip install --no-deps .`): the script refuses to run when the installed
files differ from the repository's. Exit status 0 when every mutant was killed, 1 when any survived, 2 on errors.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Source folder -> installed package path (pyproject's package-dir).
INSTALLED_AS = {"modeling_avemo/": "modeling_avemo/", "avemo/": "avemo/", "processing/": "avemo/processing/"}

FORMULAS = "tests/test_formulas.py"
TRAINING = "tests/test_training.py"


@dataclass
class Mutant:
    name: str
    what: str
    file: str  # path in the repository
    old: str
    new: str
    tests: list[str]  # focused pytest node ids (relative to the tests folder's parent)
    relevant: list[str]  # whole test files that cover this code (for --relevant-files)


MUTANTS = [
    Mutant(
        "fbp-no-signed-sqrt",
        "FBP without the power normalisation sign(z) sqrt(|z|)",
        "modeling_avemo/fusion_avemo.py",
        "return nn.functional.normalize(signed_sqrt(pooled), dim=-1)",
        "return nn.functional.normalize(pooled, dim=-1)",
        [
            f"{FORMULAS}::test_factorized_bilinear_pooling_mfb_form",
            f"{FORMULAS}::test_fbp_in_the_model_fuses_the_pooled_vectors",
        ],
        ["tests/test_modeling_avemo.py"],
    ),
    Mutant(
        "fbp-no-l2-norm",
        "FBP without the final L2 normalisation",
        "modeling_avemo/fusion_avemo.py",
        "return nn.functional.normalize(signed_sqrt(pooled), dim=-1)",
        "return signed_sqrt(pooled)",
        [
            f"{FORMULAS}::test_factorized_bilinear_pooling_mfb_form",
            f"{FORMULAS}::test_fbp_in_the_model_fuses_the_pooled_vectors",
        ],
        ["tests/test_modeling_avemo.py"],
    ),
    Mutant(
        "self-attention-softmax",
        "FAN self-attention with softmax weights instead of normalised sigmoid weights",
        "modeling_avemo/attention_avemo.py",
        "        alphas = self.alpha(self.dropout(features)).squeeze(-1)\n"
        "        weights = normalize_weights(alphas, mask)\n",
        "        scores = self.alpha[0](self.dropout(features)).squeeze(-1)\n"
        "        weights = masked_softmax(scores, mask)\n",
        [f"{FORMULAS}::test_fan_self_attention_is_normalised_sigmoid"],
        ["tests/test_modeling_avemo.py"],
    ),
    Mutant(
        "relation-attention-without-alpha",
        "relation-attention weights beta_i instead of alpha_i beta_i",
        "modeling_avemo/attention_avemo.py",
        "weights = normalize_weights(alphas * betas, mask)",
        "weights = normalize_weights(betas, mask)",
        [f"{FORMULAS}::test_fan_relation_attention"],
        ["tests/test_modeling_avemo.py"],
    ),
    Mutant(
        "fcn-attention-ignores-lambda",
        "FCN audio attention softmax(e) instead of softmax(lambda e)",
        "modeling_avemo/attention_avemo.py",
        "weights = masked_softmax(self.temperature * energies, mask)",
        "weights = masked_softmax(energies, mask)",
        [
            f"{FORMULAS}::test_fcn_audio_attention_with_lambda",
            f"{FORMULAS}::test_fcn_lambda_comes_from_the_config_and_sharpens_the_weights",
        ],
        ["tests/test_modeling_avemo.py"],
    ),
    Mutant(
        "transformer-attention-no-residual",
        "transformer-attention h_i = LayerNorm(MHA(g)_i), without the residual g_i",
        "modeling_avemo/attention_avemo.py",
        "hidden_states = self.layer_norm(projected + self.output(context))",
        "hidden_states = self.layer_norm(self.output(context))",
        [f"{FORMULAS}::test_transformer_attention_as_documented"],
        ["tests/test_modeling_avemo.py"],
    ),
    Mutant(
        "transformer-attention-unscaled",
        "transformer-attention scores q.k without the 1/sqrt(d) scaling",
        "modeling_avemo/attention_avemo.py",
        "scores = query @ key.transpose(-1, -2) / math.sqrt(self.head_size)",
        "scores = query @ key.transpose(-1, -2)",
        [f"{FORMULAS}::test_transformer_attention_as_documented"],
        ["tests/test_modeling_avemo.py"],
    ),
    Mutant(
        "alexnet-padding-not-zeroed",
        "masked AlexNet that does not zero the padded map columns after each layer",
        "modeling_avemo/backbones_avemo.py",
        "hidden_states = hidden_states * keep[:, None, None, :]",
        "hidden_states = hidden_states",
        [f"{FORMULAS}::test_masked_alexnet_equals_the_unpadded_clip"],
        ["tests/test_modeling_avemo.py", "tests/test_backbone_import.py"],
    ),
    Mutant(
        "extractor-window-25ms",
        "feature extractor with a 25 ms window (400 samples) instead of 40 ms",
        "processing/feature_extraction_avemo.py",
        "win_length: int = 640,",
        "win_length: int = 400,",
        [
            f"{FORMULAS}::test_extractor_and_processor_defaults_are_the_pinned_numbers",
            f"{FORMULAS}::test_log_mel_and_deltas_match_librosa_with_the_pinned_settings",
        ],
        ["tests/test_processing.py"],
    ),
    Mutant(
        "extractor-nfft-512",
        "feature extractor with a 512-point FFT instead of 1024",
        "processing/feature_extraction_avemo.py",
        "n_fft: int = 1024,",
        "n_fft: int = 512,",
        [
            f"{FORMULAS}::test_extractor_and_processor_defaults_are_the_pinned_numbers",
            f"{FORMULAS}::test_log_mel_and_deltas_match_librosa_with_the_pinned_settings",
        ],
        ["tests/test_processing.py"],
    ),
    Mutant(
        "extractor-fmax-7600",
        "feature extractor with the top mel band edge at 7.6 kHz instead of 8 kHz",
        "processing/feature_extraction_avemo.py",
        "f_max: float | None = 8000.0,",
        "f_max: float | None = 7600.0,",
        [
            f"{FORMULAS}::test_extractor_and_processor_defaults_are_the_pinned_numbers",
            f"{FORMULAS}::test_log_mel_and_deltas_match_librosa_with_the_pinned_settings",
        ],
        ["tests/test_processing.py"],
    ),
    Mutant(
        "extractor-delta-width-9",
        "feature extractor with 9-frame deltas instead of 5",
        "processing/feature_extraction_avemo.py",
        "delta_window: int = 5,",
        "delta_window: int = 9,",
        [
            f"{FORMULAS}::test_extractor_and_processor_defaults_are_the_pinned_numbers",
            f"{FORMULAS}::test_log_mel_and_deltas_match_librosa_with_the_pinned_settings",
        ],
        ["tests/test_processing.py"],
    ),
    Mutant(
        "extractor-fmax-7600-in-computation",
        "the mel filters built up to 7.6 kHz whatever f_max says (defaults intact)",
        "processing/feature_extraction_avemo.py",
        "self.f_max if self.f_max is not None else self.sampling_rate / 2,",
        "7600.0,",
        [f"{FORMULAS}::test_log_mel_and_deltas_match_librosa_with_the_pinned_settings"],
        ["tests/test_processing.py"],
    ),
    Mutant(
        "extractor-delta-width-9-in-computation",
        "9-frame deltas whatever delta_window says (defaults intact)",
        "processing/feature_extraction_avemo.py",
        'compute_deltas(static, self.delta_window, mode="replicate")',
        'compute_deltas(static, 9, mode="replicate")',
        [
            f"{FORMULAS}::test_delta_is_the_five_frame_regression_slope",
            f"{FORMULAS}::test_log_mel_and_deltas_match_librosa_with_the_pinned_settings",
        ],
        ["tests/test_processing.py"],
    ),
    Mutant(
        "extractor-log-floor-1e-8",
        "log-mel floored at -80 dB (1e-8) instead of -100 dB (1e-10)",
        "processing/feature_extraction_avemo.py",
        "static = 10.0 * torch.log10(spectrum.clamp_min(1e-10))",
        "static = 10.0 * torch.log10(spectrum.clamp_min(1e-8))",
        [f"{FORMULAS}::test_log_mel_and_deltas_match_librosa_with_the_pinned_settings"],
        ["tests/test_processing.py"],
    ),
    Mutant(
        "optimizer-no-weight-decay",
        "an optimizer that applies no weight decay anywhere",
        "avemo/train/trainer.py",
        '"weight_decay": self.args.weight_decay if decays else 0.0,',
        '"weight_decay": 0.0,',
        [f"{TRAINING}::test_optimizer_groups_follow_module_types"],
        [TRAINING],
    ),
    Mutant(
        "optimizer-decays-batchnorm",
        "weight decay on BatchNorm weights (transformers' name rule alone)",
        "avemo/train/trainer.py",
        "return [name for name in super().get_decay_parameter_names(model) if name not in batch_norm]",
        "return super().get_decay_parameter_names(model)",
        [f"{TRAINING}::test_optimizer_groups_follow_module_types"],
        [TRAINING],
    ),
    Mutant(
        "optimizer-one-learning-rate",
        "the backbones train at the full learning rate (backbone_lr_scale ignored)",
        "avemo/train/trainer.py",
        '"lr": base_lr * (self.backbone_lr_scale if is_backbone else 1.0),',
        '"lr": base_lr,',
        [f"{TRAINING}::test_optimizer_groups_follow_module_types"],
        [TRAINING],
    ),
    Mutant(
        "loss-ignores-class-weights",
        "a loss that ignores the class weights",
        "avemo/train/trainer.py",
        "loss = nn.functional.cross_entropy(outputs.logits.float(), labels, weight=weights)",
        "loss = nn.functional.cross_entropy(outputs.logits.float(), labels)",
        [f"{TRAINING}::test_class_weighted_loss_is_weighted_cross_entropy"],
        [TRAINING],
    ),
    Mutant(
        "gradient-accumulation-unscaled",
        "gradient accumulation that sums the micro-batch losses instead of averaging",
        "avemo/train/trainer.py",
        "loss_is_scaled_for_ga = False",
        "loss_is_scaled_for_ga = True",
        [f"{TRAINING}::test_gradient_accumulation_averages_the_micro_batch_losses"],
        [TRAINING],
    ),
    Mutant(
        "resume-restarts-from-step-0",
        '"resuming" that silently restarts from step 0',
        "avemo/train/video.py",
        "result = trainer.train(resume_from_checkpoint=True if options.resume and checkpoints else None)",
        "result = trainer.train(resume_from_checkpoint=None)",
        [f"{TRAINING}::test_learning_end_to_end_on_a_synthetic_audio_video_corpus"],
        [TRAINING],
    ),
    Mutant(
        "best-checkpoint-by-loss",
        "the kept checkpoint chosen by validation loss instead of validation UAR",
        "avemo/train/video.py",
        'metric_for_best_model="uar",\n        greater_is_better=True,',
        'metric_for_best_model="loss",\n        greater_is_better=False,',
        [f"{TRAINING}::test_learning_end_to_end_on_a_synthetic_audio_video_corpus"],
        [TRAINING],
    ),
    Mutant(
        "train-ignores-init-from",
        "`train --init-from` that starts from random weights",
        "avemo/train/video.py",
        "    if options.init_from:\n        from avemo.processing",
        "    if False:\n        from avemo.processing",
        [f"{TRAINING}::test_train_from_a_model_folder_with_class_weights_and_a_frozen_audio_cnn"],
        [TRAINING, "tests/test_cli.py"],
    ),
    Mutant(
        "cache-ignores-settings",
        "a feature cache that is reused after the processor settings changed",
        "avemo/data/caching.py",
        "settings = hashlib.sha256(processor.to_json_string().encode()).hexdigest()[:12]",
        'settings = "any"',
        [f"{TRAINING}::test_feature_cache_is_rebuilt_when_processor_settings_change"],
        [TRAINING],
    ),
    Mutant(
        "evaluate-maps-labels-by-index",
        "`avemo evaluate` pairing corpus and model labels by position, not by name",
        "avemo/evaluation/evaluate.py",
        "to_model = label_mapping(labels, ensemble.labels, name)",
        "to_model = list(range(len(labels)))",
        [f"{TRAINING}::test_evaluate_maps_labels_by_name_on_a_split"],
        [TRAINING],
    ),
    Mutant(
        "importer-ignores-nesting",
        "backbone importers that do not unwrap checkpoints nested under state_dict/model",
        "modeling_avemo/backbone_import.py",
        '_NESTED_KEYS = ("state_dict", "model_state_dict", "model")',
        "_NESTED_KEYS = ()",
        ["tests/test_user_paths.py::test_alexnet_importer_reads_safetensors_and_nested_checkpoints"],
        ["tests/test_backbone_import.py", "tests/test_cli.py"],
    ),
    Mutant(
        "cli-prints-least-likely-label",
        "`avemo predict` printing the least likely label as the prediction",
        "avemo/cli/__init__.py",
        '    f"{result.file}: {result.label}  ({scores})",\n',
        '    f"{result.file}: {ranked[-1][0]}  ({scores})",\n',
        ["tests/test_cli.py::test_predict_prints_the_most_likely_label_first"],
        ["tests/test_cli.py"],
    ),
]


def installed_root() -> Path:
    """The site-packages folder holding the installed avemo and modeling_avemo (not the repository)."""
    code = "import avemo, modeling_avemo, pathlib; print(pathlib.Path(modeling_avemo.__file__).parent.parent)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tempfile.gettempdir())
    if out.returncode:
        sys.exit(f"mutants: avemo is not installed for {sys.executable}:\n{out.stderr}")
    root = Path(out.stdout.strip())
    if root.resolve() == REPO:
        sys.exit("mutants: avemo is imported from the repository itself; install it (pip install --no-deps .)")
    return root


def installed_path(source: str) -> str:
    for prefix, target in INSTALLED_AS.items():
        if source.startswith(prefix):
            return target + source[len(prefix) :]
    raise ValueError(f"{source}: not in an installed package")


def check_installed_matches_source(root: Path) -> list[str]:
    stale = []
    for mutant in MUTANTS:
        if (root / installed_path(mutant.file)).read_text() != (REPO / mutant.file).read_text():
            stale.append(mutant.file)
    return sorted(set(stale))


def apply(mutant: Mutant, root: Path, overlay: Path) -> None:
    for package in ("avemo", "modeling_avemo"):
        shutil.copytree(root / package, overlay / package, ignore=shutil.ignore_patterns("__pycache__"))
    target = overlay / installed_path(mutant.file)
    text = target.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise RuntimeError(f"{mutant.name}: the text to replace occurs {count} times in {mutant.file} (expected once)")
    target.write_text(text.replace(mutant.old, mutant.new))


def run_pytest(
    targets: list[str], tests_root: Path, overlay: Path | None, log: Path, extra=()
) -> tuple[int, list[str], float]:
    env = dict(os.environ)
    if overlay is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(overlay), *filter(None, [env.get("PYTHONPATH")])])
    # The test environment's console scripts (avemo, accelerate) come first, as tests/run.sh arranges.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # The pytest console script, not `python -m pytest`, which would put the repository (the cwd) first on sys.path
    # and import the unmutated source.
    pytest = Path(sys.executable).parent / "pytest"
    command = [str(pytest), *targets, *extra, "-x", "-q", "-rfE", "-p", "no:cacheprovider"]
    start = time.monotonic()
    result = subprocess.run(command, cwd=tests_root, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    log.write_text(result.stdout + result.stderr)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.stdout, flags=re.M)
    return result.returncode, failed, elapsed


def tests_from_commit(commit: str, scratch: Path) -> Path:
    """The tests folder (and pyproject.toml) of another revision, beside a link to ../shared as conftest expects."""
    base = scratch / "base"
    base.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "tests", "pyproject.toml"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
    (scratch / "shared").symlink_to((REPO.parent / "shared").resolve())
    return base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these mutants only")
    parser.add_argument(
        "--relevant-files", action="store_true", help="run the whole relevant test files instead of the focused tests"
    )
    parser.add_argument(
        "--tests-from-commit", metavar="REV", help="use the tests of this revision (with --relevant-files)"
    )
    parser.add_argument(
        "--test", action="append", metavar="NODE", help="run this test instead of each mutant's own (repeatable)"
    )
    parser.add_argument(
        "--deselect", action="append", default=[], metavar="NODE", help="passed on to pytest (repeatable)"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the check that the tests pass without a mutant"
    )
    parser.add_argument(
        "--logs", default=None, help="folder for the pytest log of each mutant (default: a temporary folder)"
    )
    args = parser.parse_args()

    mutants = MUTANTS
    if args.only:
        unknown = set(args.only) - {m.name for m in MUTANTS}
        if unknown:
            parser.error(f"unknown mutants: {', '.join(sorted(unknown))}")
        mutants = [m for m in MUTANTS if m.name in args.only]
    if args.list:
        for mutant in mutants:
            print(f"{mutant.name:36} {mutant.what}\n{'':36} {mutant.file}; killed by: {', '.join(mutant.tests)}")
        return 0
    if args.tests_from_commit and not args.relevant_files:
        parser.error("--tests-from-commit needs --relevant-files (the focused tests may not exist in that revision)")

    root = installed_root()
    stale = check_installed_matches_source(root)
    if stale:
        print(
            f"mutants: the installed package differs from the repository in {', '.join(stale)}; reinstall first "
            "(pip install --no-deps .)",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="avemo-mutants-") as scratch:
        scratch = Path(scratch)
        tests_root = tests_from_commit(args.tests_from_commit, scratch) if args.tests_from_commit else REPO
        logs = Path(args.logs) if args.logs else scratch / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        targets_of = (lambda m: m.relevant) if args.relevant_files else (lambda m: m.tests)
        if args.test:
            targets_of = lambda m: args.test  # noqa: E731
        extra = [f"--deselect={node}" for node in args.deselect]
        if not args.no_baseline:
            targets = sorted({target for mutant in mutants for target in targets_of(mutant)})
            code, failed, elapsed = run_pytest(targets, tests_root, None, logs / "baseline.log", extra)
            print(f"baseline (no mutant): {'pass' if code == 0 else 'FAIL'} in {elapsed:.0f} s")
            if code != 0:
                print(
                    "mutants: the tests fail without any mutant "
                    f"({', '.join(failed) or 'see ' + str(logs / 'baseline.log')})",
                    file=sys.stderr,
                )
                return 2
        results = []
        for mutant in mutants:
            overlay = scratch / f"overlay-{mutant.name}"
            overlay.mkdir()
            apply(mutant, root, overlay)
            code, failed, elapsed = run_pytest(
                targets_of(mutant), tests_root, overlay, logs / f"{mutant.name}.log", extra
            )
            shutil.rmtree(overlay)
            status = {0: "SURVIVED", 1: "killed"}.get(code, f"error (pytest exit {code})")
            results.append((mutant, status, failed))
            print(f"{mutant.name:36} {status:9} {elapsed:5.0f} s  {', '.join(failed)}", flush=True)
        survived = [m.name for m, status, _ in results if status == "SURVIVED"]
        errors = [m.name for m, status, _ in results if status.startswith("error")]
        print(
            f"\n{len(results)} mutants: {len(results) - len(survived) - len(errors)} killed, "
            f"{len(survived)} survived, {len(errors)} errors"
        )
        if survived:
            print("survivors: " + ", ".join(survived))
        if errors:
            print("errors (see the logs): " + ", ".join(errors))
        if args.logs is None and (survived or errors):
            kept = REPO / ".mutants-logs"
            shutil.copytree(logs, kept, dirs_exist_ok=True)
            print(f"logs: {kept}")
        return 2 if errors else 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
