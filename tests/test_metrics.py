"""avemo's local `evaluate` metric modules (avemo/evaluation/evaluate_modules/<name>/<name>.py) and
avemo.evaluation.metrics.

Every expected number below is worked out by hand in the comments next to it.
"""

import os
import socket
import subprocess
import sys
import warnings

import numpy as np
import pytest

from avemo.evaluation.metrics import (
    METRIC_NAMES,
    METRICS_DIR,
    classification_metrics,
    load_metric,
    plot_confusion_matrix,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Unbalanced: six samples of class 0, two of class 1, two of class 2.
UNBALANCED_REFS = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2]
UNBALANCED_PREDS = [0, 0, 0, 0, 0, 0, 0, 0, 2, 1]
# rows = true, columns = predicted: class 0 -> all 6 right; class 1 -> both predicted 0; class 2 -> one 2, one 1.
UNBALANCED_MATRIX = [[6, 0, 0], [2, 0, 0], [0, 1, 1]]


def _no_network(*args, **kwargs):
    raise OSError("network access is blocked in test_metrics")


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    """The four modules loaded by path, offline, with sockets blocked and the working directory elsewhere."""
    import evaluate

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("HF_EVALUATE_OFFLINE", "1")
        patch.chdir(tmp_path_factory.mktemp("elsewhere"))
        patch.setattr(socket.socket, "connect", _no_network)
        patch.setattr(socket, "create_connection", _no_network)
        cache_dir = str(tmp_path_factory.mktemp("evaluate_cache"))
        loaded = {
            name: evaluate.load(str(METRICS_DIR / name), keep_in_memory=True, cache_dir=cache_dir)
            for name in METRIC_NAMES
        }
    return loaded


def test_each_module_loads_by_path_offline(metrics):
    assert set(metrics) == {"accuracy", "uar", "macro_f1", "confusion_matrix"}
    for name, module in metrics.items():
        assert (METRICS_DIR / name / f"{name}.py").is_file()
        assert module.name == name
        assert set(module.features) == {"predictions", "references"}
        assert all(feature.dtype == "int64" for feature in module.features.values())
        assert module.description.strip()


def test_accuracy_and_uar_differ_on_unbalanced_data(metrics):
    # accuracy: 6 + 0 + 1 right out of 10 = 0.7
    accuracy = metrics["accuracy"].compute(predictions=UNBALANCED_PREDS, references=UNBALANCED_REFS)
    assert accuracy == {"accuracy": pytest.approx(0.7)}
    # recalls: class 0 6/6 = 1, class 1 0/2 = 0, class 2 1/2 = 0.5 -> UAR = 1.5 / 3 = 0.5
    uar = metrics["uar"].compute(predictions=UNBALANCED_PREDS, references=UNBALANCED_REFS)
    assert uar == {"uar": pytest.approx(0.5)}


def test_macro_f1_unbalanced(metrics):
    # class 0: 8 predicted, 6 right, 6 true -> P = 3/4, R = 1 -> F1 = 2 * 0.75 / 1.75 = 6/7
    # class 1: 1 predicted (the last sample), 0 right -> F1 = 0
    # class 2: 1 predicted, 1 right, 2 true -> P = 1, R = 1/2 -> F1 = 2/3
    # macro F1 = (6/7 + 0 + 2/3) / 3 = 32/63
    result = metrics["macro_f1"].compute(predictions=UNBALANCED_PREDS, references=UNBALANCED_REFS)
    assert result == {"macro_f1": pytest.approx(32 / 63)}


def test_confusion_matrix_rows_are_true_columns_predicted(metrics):
    result = metrics["confusion_matrix"].compute(predictions=UNBALANCED_PREDS, references=UNBALANCED_REFS, num_labels=3)
    matrix = result["confusion_matrix"]
    assert matrix == UNBALANCED_MATRIX
    # asymmetric: two true-1 samples predicted 0, no true-0 sample predicted 1; a transpose would fail above
    assert matrix[1][0] == 2 and matrix[0][1] == 0
    assert all(type(count) is int for row in matrix for count in row)


def test_confusion_matrix_has_every_class_and_checks_arguments(metrics):
    # classes 2 and 3 appear nowhere but still get a row and a column
    matrix = metrics["confusion_matrix"].compute(predictions=[1, 0, 1], references=[0, 0, 1], num_labels=4)[
        "confusion_matrix"
    ]
    assert matrix == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    with pytest.raises(ValueError, match="num_labels"):
        metrics["confusion_matrix"].compute(predictions=[0], references=[0])
    with pytest.raises(ValueError, match="outside"):
        metrics["confusion_matrix"].compute(predictions=[0, 3], references=[0, 1], num_labels=3)


def test_class_absent_from_references(metrics):
    refs = [0, 0, 1, 1]
    preds = [0, 2, 1, 1]  # class 2 is predicted once but never true; class 3 appears nowhere
    # accuracy 3/4
    assert metrics["accuracy"].compute(predictions=preds, references=refs)["accuracy"] == pytest.approx(0.75)
    # UAR over classes with references only: (1/2 + 2/2) / 2 = 0.75, with or without labels=[0..3]
    assert metrics["uar"].compute(predictions=preds, references=refs)["uar"] == pytest.approx(0.75)
    assert metrics["uar"].compute(predictions=preds, references=refs, labels=[0, 1, 2, 3])["uar"] == pytest.approx(0.75)
    # macro F1 over the classes in references: class 0 P = 1, R = 1/2 -> 2/3; class 1 -> 1; mean 5/6
    assert metrics["macro_f1"].compute(predictions=preds, references=refs)["macro_f1"] == pytest.approx(5 / 6)
    # with labels=[0..3]: class 2 (predicted, never true) counts with F1 0, class 3 (nowhere) is left out:
    # (2/3 + 1 + 0) / 3 = 5/9
    result = metrics["macro_f1"].compute(predictions=preds, references=refs, labels=[0, 1, 2, 3])
    assert result["macro_f1"] == pytest.approx(5 / 9)


def test_perfect_predictions(metrics):
    refs = preds = [2, 0, 1, 2]
    assert metrics["accuracy"].compute(predictions=preds, references=refs)["accuracy"] == 1.0
    assert metrics["uar"].compute(predictions=preds, references=refs)["uar"] == 1.0
    assert metrics["macro_f1"].compute(predictions=preds, references=refs)["macro_f1"] == 1.0
    matrix = metrics["confusion_matrix"].compute(predictions=preds, references=refs, num_labels=3)["confusion_matrix"]
    assert matrix == [[1, 0, 0], [0, 1, 0], [0, 0, 2]]


def test_all_wrong_predictions(metrics):
    refs = [0, 1, 2, 0]
    preds = [1, 2, 0, 2]
    assert metrics["accuracy"].compute(predictions=preds, references=refs)["accuracy"] == 0.0
    assert metrics["uar"].compute(predictions=preds, references=refs)["uar"] == 0.0
    assert metrics["macro_f1"].compute(predictions=preds, references=refs)["macro_f1"] == 0.0
    matrix = metrics["confusion_matrix"].compute(predictions=preds, references=refs, num_labels=3)["confusion_matrix"]
    # true 0 -> predicted 1 and 2; true 1 -> predicted 2; true 2 -> predicted 0
    assert matrix == [[0, 1, 1], [0, 0, 1], [1, 0, 0]]


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_empty_inputs_raise(metrics, name):
    extra = {"num_labels": 3} if name == "confusion_matrix" else {}
    with pytest.raises(ValueError, match="empty"):
        metrics[name].compute(predictions=[], references=[], **extra)


def test_load_metric_caches_and_rejects_unknown_names():
    first = load_metric("uar")
    assert load_metric("uar") is first
    assert first.compute(predictions=[0, 0], references=[0, 1])["uar"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="accuracy, uar, macro_f1, confusion_matrix"):
        load_metric("f1")


def test_classification_metrics_agrees_with_the_modules(metrics):
    result = classification_metrics(np.array(UNBALANCED_PREDS, dtype=np.int32), np.array(UNBALANCED_REFS), 3)
    assert set(result) == {"accuracy", "uar", "macro_f1", "confusion_matrix"}
    assert result["accuracy"] == pytest.approx(0.7)
    assert result["uar"] == pytest.approx(0.5)
    assert result["macro_f1"] == pytest.approx(32 / 63)
    assert result["confusion_matrix"] == UNBALANCED_MATRIX
    assert all(type(result[key]) is float for key in ("accuracy", "uar", "macro_f1"))
    for key in ("accuracy", "uar", "macro_f1"):
        assert result[key] == pytest.approx(
            metrics[key].compute(predictions=UNBALANCED_PREDS, references=UNBALANCED_REFS)[key]
        )


def test_classification_metrics_averages_over_num_labels():
    # same data as test_class_absent_from_references: F1 over range(4) is 5/9, UAR still 0.75
    result = classification_metrics([0, 2, 1, 1], [0, 0, 1, 1], num_labels=4)
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["uar"] == pytest.approx(0.75)
    assert result["macro_f1"] == pytest.approx(5 / 9)
    assert result["confusion_matrix"] == [[1, 0, 1, 0], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_classification_metrics_rejects_bad_inputs():
    with pytest.raises(ValueError, match="empty"):
        classification_metrics([], [], num_labels=3)
    with pytest.raises(ValueError, match="as many"):
        classification_metrics([0, 1], [0], num_labels=3)
    with pytest.raises(ValueError, match="outside"):
        classification_metrics([0, 5], [0, 1], num_labels=3)
    with pytest.raises(ValueError, match="argmax"):
        classification_metrics(np.zeros((4, 3)), [0, 1, 2, 0], num_labels=3)


def test_plot_confusion_matrix_writes_a_png(tmp_path):
    from PIL import Image

    labels = ["neutral", "happy", "sad", "angry"]
    matrix = [[6, 0, 0, 0], [2, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]]  # the last row has no samples
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0/0 in the row normalisation would warn
        path = plot_confusion_matrix(matrix, labels, tmp_path / "plots" / "cm.png", title="validation")
        raw_path = plot_confusion_matrix(
            matrix, labels, tmp_path / "cm_counts.png", title="validation", normalize=False
        )
    assert path == tmp_path / "plots" / "cm.png"
    for written in (path, raw_path):
        assert written.read_bytes()[:8] == PNG_SIGNATURE
        with Image.open(written) as image:
            image.load()
            assert image.format == "PNG"
            width, height = image.size
            assert 400 <= width <= 4000 and 400 <= height <= 4000
            assert image.info["dpi"][0] == pytest.approx(150, abs=1)
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 10  # not a blank canvas
    # Normalised, two cells are at the top of the scale (6/6 and 2/2); in counts only one is (6 of max 6, 2 is
    # light). Count the pixels in the colour map's darkest blue (the colour bar's top adds the same to both).
    darkest = np.array([8, 48, 107])  # "Blues" at 1.0

    def dark_pixels(png):
        with Image.open(png) as image:
            rgb = np.asarray(image.convert("RGB")).astype(int)
        return int((np.abs(rgb - darkest).sum(axis=-1) < 30).sum())

    assert dark_pixels(path) > 1.5 * dark_pixels(raw_path) > 0
    with pytest.raises(ValueError, match="label names"):
        plot_confusion_matrix(matrix, labels[:3], tmp_path / "bad.png")


def test_importing_avemo_evaluation_is_cheap():
    code = "import sys, avemo.evaluation; print(sorted({'evaluate', 'matplotlib', 'datasets'} & set(sys.modules)))"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
