"""Hub repositories: `avemo export` (exactly the files a model repository needs, with its card), the card's
contents, `avemo push` (what it would send), and `avemo space --export` (a self-contained Space)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from avemo.cli import main as avemo_main
from conftest import REPO_ROOT, run_avemo as avemo, run_without_project

PICKLES = ("training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth", "pytorch_model.bin")


def _code_files_save_pretrained_writes(model_dir: Path, tmp: Path) -> set[str]:
    from avemo.processing import AVEmoProcessor
    from modeling_avemo import AVEmoForVideoClassification

    AVEmoForVideoClassification.from_pretrained(model_dir).save_pretrained(tmp)
    AVEmoProcessor.from_pretrained(model_dir).save_pretrained(tmp)
    return {path.name for path in tmp.iterdir() if path.suffix == ".py"}


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    """A model folder as `avemo train` leaves it: the model, plus pickles, checkpoints and logs that must never
    reach the hub."""
    from avemo.model_folders.create import init_model_folder

    folder = init_model_folder(tmp_path_factory.mktemp("export") / "run" / "best", preset="fer2013-faces")
    for name in PICKLES:
        (folder / name).write_bytes(b"\x80\x04pickle")
    (folder / "training_info.json").write_text("{}")
    (folder / "checkpoint-10").mkdir()
    (folder / "checkpoint-10" / "model.safetensors").write_bytes(b"x")
    return folder


@pytest.fixture(scope="module")
def exported(trained_folder):
    hub = trained_folder.parent.parent / "hub" / "avemo-faces"
    result = avemo("export", "--model", trained_folder, "--output", hub)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr and "next: avemo push" in result.stderr
    return hub


def test_export_writes_exactly_a_hub_repository(exported, trained_folder, tmp_path):
    names = {path.name for path in exported.iterdir()}
    code = _code_files_save_pretrained_writes(trained_folder, tmp_path)
    assert {"modeling_avemo.py", "configuration_avemo.py", "processing_avemo.py"} <= code
    assert names == {"config.json", "model.safetensors", "processor_config.json", "README.md"} | code
    config = json.loads((exported / "config.json").read_text())
    assert config["auto_map"]["AutoModelForVideoClassification"] == "modeling_avemo.AVEmoForVideoClassification"
    assert config["auto_map"]["AutoConfig"] == "configuration_avemo.AVEmoConfig"
    assert (
        json.loads((exported / "processor_config.json").read_text())["auto_map"]["AutoProcessor"]
        == "processing_avemo.AVEmoProcessor"
    )
    # The weights are the model's, tensor for tensor.
    source, copy = load_file(trained_folder / "model.safetensors"), load_file(exported / "model.safetensors")
    assert source.keys() == copy.keys() and all(torch.equal(source[key], copy[key]) for key in source)
    assert config["provenance"] == json.loads((trained_folder / "config.json").read_text())["provenance"]


def _main(capsys, *args) -> tuple[int, str]:
    """avemo's CLI in this process (the same code as the console script, without a new interpreter)."""
    code = avemo_main([str(arg) for arg in args])
    return code, capsys.readouterr().err


def test_export_refuses_to_clobber_other_files(exported, trained_folder, tmp_path, capsys):
    before = {path.name: path.stat().st_mtime_ns for path in exported.iterdir()}
    code, err = _main(capsys, "export", "--model", trained_folder, "--output", exported)
    assert code == 1 and "already holds files" in err and "--overwrite" in err
    assert before == {path.name: path.stat().st_mtime_ns for path in exported.iterdir()}
    assert _main(capsys, "export", "--model", trained_folder, "--output", exported, "--overwrite")[0] == 0
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.tex").write_text("keep me")
    code, err = _main(capsys, "export", "--model", trained_folder, "--output", other, "--overwrite")
    assert code == 1 and "only replaces an earlier export" in err
    assert [path.name for path in other.iterdir()] == ["thesis.tex"]
    code, err = _main(capsys, "export", "--model", tmp_path / "nowhere", "--output", tmp_path / "out")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "nowhere" in err
    assert not (tmp_path / "out").exists()


def _card_snippet(readme: str, marker: str) -> str:
    """The first Python block after `marker` in the card."""
    after = readme[readme.index(marker) :]
    return re.search(r"```python\n(.*?)```", after, re.DOTALL).group(1)


def test_exported_folder_loads_without_avemo_like_avemo_predict(exported, shared_data):
    clip = shared_data / "video" / "single_face.mp4"
    from avemo.inference import Predictor

    result = avemo("predict", clip, "--json", "--model", exported)
    assert result.returncode == 0, result.stderr
    predicted = {exported: json.loads(result.stdout)["scores"]}
    assert predicted[exported] == Predictor().predict_file(clip).scores  # the shipped model it came from
    # The card's own Auto-class example, run where avemo cannot be imported (it loads "./avemo-faces").
    snippet = _card_snippet((exported / "README.md").read_text(), "With `transformers` only")
    assert f'"./{exported.name}"' in snippet and "trust_remote_code=True" in snippet
    code = snippet.replace("clip.mp4", str(clip)) + (
        "\nimport json\n"
        "assert type(model).__module__.startswith('transformers_modules'), type(model).__module__\n"
        "print('RESULT', json.dumps(probabilities.tolist()))\n"
    )
    result = run_without_project(code, cwd=exported.parent)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    probabilities = json.loads(line.removeprefix("RESULT "))
    labels = json.loads((exported / "config.json").read_text())["id2label"]
    remote = {labels[str(index)]: p for index, p in enumerate(probabilities)}
    assert remote.keys() == predicted[exported].keys()
    for label, score in predicted[exported].items():
        assert abs(remote[label] - score) < 1e-5, (label, remote[label], score)


def test_card_model_index_from_avemo_evaluate(trained_folder, tmp_path, shared_data, capsys):
    from huggingface_hub import ModelCard

    listing = tmp_path / "clips.csv"  # labels made up for the test: no accuracy claim comes from these files
    listing.write_text(
        "path,label,speaker\n"
        f"{shared_data / 'video' / 'single_face.mp4'},Happy,a\n"
        f"{shared_data / 'video' / 'face_noface.mov'},Neutral,b\n"
        f"{shared_data / 'video' / 'WolfgangLanger_Pexels.mp4'},Sad,c\n"
    )
    metrics = tmp_path / "test.json"
    result = avemo("evaluate", "--model", trained_folder, "--data-dir", listing, "--corpus", "csv", "--output", metrics)
    assert result.returncode == 0, result.stderr
    report = json.loads(metrics.read_text())
    hub = tmp_path / "hub"
    code, err = _main(
        capsys,
        "export",
        "--model",
        trained_folder,
        "--output",
        hub,
        "--metrics",
        metrics,
        "--repo-id",
        "someone/avemo-faces",
    )
    assert code == 0, err
    assert "model-index from test.json" in err
    card = ModelCard.load(hub / "README.md")
    assert card.data.pipeline_tag == "video-classification" and card.data.library_name == "transformers"
    assert card.data.license == "mit" and "custom_code" in card.data.tags
    results = {result.metric_type: result for result in card.data.eval_results}
    assert set(results) == {"accuracy", "uar", "macro_f1"}
    for key, result in results.items():
        assert result.metric_value == pytest.approx(report[key], abs=1e-4)
        assert (result.dataset_type, result.dataset_name, result.dataset_split) == ("csv", "clips", "all")
        assert result.task_type == "video-classification"
    assert "model-index:" in (hub / "README.md").read_text()
    assert "| clips | all | 3 |" in card.text and "0.1429 |" in card.text  # the table, with chance UAR 1/7
    assert "true \\ predicted" in card.text
    assert '"someone/avemo-faces"' in card.text and "./hub" not in card.text
    # Metrics of another model (other labels) are refused, naming the file.
    report["labels"] = ["Angry", "Happy", "Sad"]
    wrong = tmp_path / "other.json"
    wrong.write_text(json.dumps(report))
    code, err = _main(capsys, "export", "--model", trained_folder, "--output", tmp_path / "hub2", "--metrics", wrong)
    assert code == 1 and "other.json" in err and "belong to another model" in err
    assert not (tmp_path / "hub2").exists()


def _folder_with_provenance(tmp_path, provenance_update: dict) -> Path:
    from avemo.model_folders.pretrained import pretrained_path

    folder = tmp_path / "model"
    shutil.copytree(pretrained_path(), folder)
    config = json.loads((folder / "config.json").read_text())
    config["provenance"].update(provenance_update)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_card_of_the_shipped_model():
    from avemo.hub_card import build_model_card
    from avemo.model_folders.pretrained import pretrained_path

    card = build_model_card(pretrained_path(), repo_id="someone/fer2013-faces")
    text = card.text
    assert card.data.license == "mit" and not card.data.eval_results
    for expected in (
        "Still images, not video",
        "Article 5(1)(f)",
        "Acted, not spontaneous",
        "FER2013 demographics",
        "arXiv:2012.13912",
        "arXiv:1710.07557",
        "arXiv:1307.0414",
        "@inproceedings{zhou2019exploring",
        "fer2013: 64x64 grayscale",
        "accuracy: 0.66; source: published by Arriaga et al. 2017, not measured by avemo",
        "no training run recorded",
        'pipeline("video-classification", model="someone/fer2013-faces", trust_remote_code=True)',
        "Trainer(model=model",
        "`59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e`",
    ):
        assert expected in text, expected
    for absent in ("RAVDESS", "CREMA-D", "AFEW**", "MS-Celeb-1M"):
        assert absent not in text, absent


def test_card_follows_the_training_provenance(tmp_path):
    """What issue 8's runs record (and keys the card does not know) shows up, with the corpora's citations,
    licences and demographics."""
    from avemo.hub_card import build_model_card

    folder = _folder_with_provenance(
        tmp_path,
        {
            "training": [
                {
                    "tool": "avemo train",
                    "corpus": "ravdess",
                    "steps": 400,
                    "epochs": 5.0,
                    "date": "2025-06-01",
                    "train_clips": 960,
                    "labels": ["Neutral", "Calm"],
                    "gpu_hours": 0.5,
                },
                {"tool": "transformers.Trainer", "corpus": "crema-d", "steps": 20},
            ],
            "evaluation": [
                {
                    "corpus": "ravdess",
                    "split": "test",
                    "clips": 240,
                    "accuracy": 0.41,
                    "uar": 0.4,
                    "macro_f1": 0.38,
                    "chance_uar": 0.125,
                    "source": "avemo train",
                },
            ],
        },
    )
    card = build_model_card(folder)
    text = card.text
    assert card.data.license == "cc-by-nc-sa-4.0"
    for expected in (
        "gpu hours: 0.5",
        "tool: transformers.Trainer; corpus: crema-d; steps: 20",
        "corpus: ravdess; split: test; clips: 240; accuracy: 0.41; UAR: 0.4; macro F1: 0.38; chance UAR: 0.125",
        "Livingstone",
        "CC BY-NC-SA 4.0",
        "@article{livingstone2018ravdess",
        "Cao, Houwei",
        "ODbL",
        "24 professional actors",
        "91 actors (48 male, 43 female)",
        "Still images, not video",
    ):
        assert expected in text, expected
    assert "**AFEW**" not in text and "Dhall" not in text


def test_card_of_an_untrained_random_model(tmp_path):
    from avemo.hub_card import build_model_card

    from avemo.model_folders.create import init_model_folder

    from avemo.model_folders.configs import read_config_file

    folder = init_model_folder(tmp_path / "random", read_config_file(_tiny_config(tmp_path)))
    card = build_model_card(folder)
    assert "untrained" in card.text and "no: the scores mean nothing yet" in card.text
    assert "no held-out evaluation recorded" in card.text and "FER2013" not in card.text
    assert "log-mel" in card.text and "No voice" not in card.text


def _tiny_config(tmp_path) -> Path:
    from test_cli import TINY

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


# ------------------------------------------------------------------------------------------------ push


def test_push_sends_exactly_the_exported_files(exported, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))
            return type("Commit", (), {"commit_url": f"https://huggingface.co/{kwargs['repo_id']}/commit/abc"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert avemo_main(["push", str(exported), "--repo-id", "someone/avemo-faces", "--private"]) == 0
    files = sorted(path.name for path in exported.iterdir())
    [(_, repo_id, create)] = [call for call in calls if call[0] == "create_repo"]
    assert repo_id == "someone/avemo-faces" and create == {"repo_type": "model", "private": True, "exist_ok": True}
    [(_, upload)] = [call for call in calls if call[0] == "upload_folder"]
    assert upload["folder_path"] == str(exported) and upload["repo_type"] == "model"
    assert sorted(upload["allow_patterns"]) == files
    out = capsys.readouterr()
    assert [line.split("\t")[0] for line in out.out.splitlines()] == files
    assert "commit/abc" in out.err

    # A pipeline the config names must travel with its code.
    broken = tmp_path / "broken"
    shutil.copytree(exported, broken)
    config = json.loads((broken / "config.json").read_text())
    assert (
        config["custom_pipelines"]["video-classification"]["impl"] == "pipeline_avemo.AVEmoVideoClassificationPipeline"
    )
    (broken / "pipeline_avemo.py").unlink()
    calls.clear()
    assert avemo_main(["push", str(broken), "--repo-id", "someone/avemo-faces", "--dry-run"]) == 1
    assert "needs pipeline_avemo.py, which is missing" in capsys.readouterr().err

    # A pickle dropped into the folder stops the push before anything is sent.
    dirty = tmp_path / "dirty"
    shutil.copytree(exported, dirty)
    (dirty / "training_args.bin").write_bytes(b"\x80\x04")
    calls.clear()
    assert avemo_main(["push", str(dirty), "--repo-id", "someone/avemo-faces"]) == 1
    assert not [call for call in calls if call[0] in ("create_repo", "upload_folder")]
    assert "training_args.bin: a pickle" in capsys.readouterr().err


def test_push_dry_run_lists_the_files_offline(exported):
    result = avemo("push", exported, "--repo-id", "someone/avemo-faces", "--dry-run")
    assert result.returncode == 0, result.stderr
    listed = {line.split("\t")[0]: int(line.split("\t")[1]) for line in result.stdout.splitlines()}
    assert listed == {path.name: path.stat().st_size for path in exported.iterdir()}
    assert "nothing was sent" in result.stderr


# ------------------------------------------------------------------------------------------------ Space export


def test_space_export_is_a_self_contained_space(trained_folder, tmp_path, shared_data, capsys, monkeypatch):
    import gradio
    from huggingface_hub import SpaceCard
    from importlib.metadata import version
    from packaging.requirements import Requirement

    space = tmp_path / "space"
    monkeypatch.setenv("AVEMO_EXAMPLES_DIR", str(shared_data))
    code, err = _main(capsys, "space", "--export", space, "--model", trained_folder)
    assert code == 0, err
    assert "copied 8 example files" in err
    card = SpaceCard.load(space / "README.md").data
    assert card.sdk == "gradio" and card.sdk_version == gradio.__version__ and (space / card.app_file).is_file()
    assert card.title and card.emoji and card.license == "apache-2.0" and card.models == []
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert f'space = ["gradio=={card.sdk_version}"]' in pyproject
    # requirements.txt: every avemo dependency, each satisfied by what the tests run with; Gradio comes from
    # sdk_version.
    requirements = {
        Requirement(line).name.lower().replace("_", "-"): Requirement(line)
        for line in (space / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    dependencies = re.search(r"dependencies = \[(.*?)\]", pyproject, re.DOTALL).group(1)
    for name in re.findall(r'"([A-Za-z0-9_.-]+)', dependencies):
        assert name.lower().replace("_", "-") in requirements, name
    for name, requirement in requirements.items():
        assert requirement.specifier.contains(version(name), prereleases=True), (name, version(name))
    assert "gradio" not in requirements
    assert json.loads((space / "avemo_space.json").read_text())["model"] == "model"
    from avemo.hub_card import check_hub_folder

    check_hub_folder(space / "model")
    assert (space / "examples" / "video" / "single_face.mp4").is_file()
    assert not list(space.rglob("__pycache__")) and not list(space.rglob("*.bin"))
    # Run from the Space folder, as Spaces does: avemo is the copy beside app.py, and the model is the exported one.
    clip = shared_data / "video" / "single_face.mp4"
    code = (
        "import json, os, avemo, modeling_avemo, app\n"
        f"root = {str(space.resolve())!r}\n"
        "for module in (avemo, modeling_avemo, app):\n"
        "    assert os.path.realpath(module.__file__).startswith(root + os.sep), module.__file__\n"
        "settings = app.SpaceSettings.resolve()\n"
        "assert settings.model == root + '/model' and settings.examples_dir == app.HERE / 'examples', settings\n"
        f"analysis = app.EmotionSpace(settings).analyse({str(clip)!r})\n"
        "print('RESULT', json.dumps(analysis.prediction['scores']))\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "AVEMO_MODEL", "AVEMO_EXAMPLES_DIR")
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=space, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    from avemo.inference import Predictor

    expected = Predictor(trained_folder).predict_file(clip).scores
    assert json.loads(line.removeprefix("RESULT ")) == pytest.approx(expected, abs=1e-6)


def test_space_export_with_a_hub_model_names_it(tmp_path):
    from huggingface_hub import SpaceCard

    from avemo.space.export import SpaceExportError, export_space

    space = tmp_path / "space"
    export_space(space, model="someone/avemo-ravdess", examples_dir=tmp_path)
    assert SpaceCard.load(space / "README.md").data.models == ["someone/avemo-ravdess"]
    assert json.loads((space / "avemo_space.json").read_text())["model"] == "someone/avemo-ravdess"
    assert not (space / "model").exists() and not (space / "examples").exists()
    with pytest.raises(SpaceExportError, match="already holds files"):
        export_space(space)


def test_space_export_from_a_source_checkout_carries_every_subpackage(tmp_path):
    """In a checkout, processing/, hub_card/ and space/ live beside avemo/: the copy must still hold them (of space/,
    what the exported app imports) inside avemo/."""
    code = (
        "import sys, avemo\n"
        f"assert avemo.__file__.startswith({str(REPO_ROOT)!r}), avemo.__file__\n"
        "from pathlib import Path\n"
        "from avemo.space.export import vendor_avemo\n"
        f"vendor_avemo(Path({str(tmp_path)!r}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    for name in (
        "avemo/processing/processing_avemo.py",
        "avemo/hub_card/modelcard_template.md",
        "avemo/model_folders/pretrained/fer2013-faces/model.safetensors",
        "avemo/evaluation/evaluate_modules/uar/uar.py",
        "modeling_avemo/modeling_avemo.py",
    ):
        assert (tmp_path / name).is_file(), name
    # Of the Space's own package only what the exported app.py imports (its flags); app.py itself sits at the top.
    assert sorted(path.name for path in (tmp_path / "avemo" / "space").iterdir()) == ["__init__.py", "options.py"]
    assert not list(tmp_path.rglob("__pycache__"))
