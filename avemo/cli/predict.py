"""`avemo predict`: emotion probabilities for video files (or still images), per file, per person or over time."""

import json
import sys
import time
from pathlib import Path

from avemo.cli.common import add_debug_flag, path_problem
from avemo.options import ModelChoice, RunOn, add_dataclass_options


def add_parser(commands) -> None:
    """Add the `avemo predict` subparser, with its persons and timeline groups."""
    predict = commands.add_parser("predict", help="emotion probabilities for video files")
    predict.add_argument(
        "videos", nargs="+", metavar="VIDEO", help="video files (mp4, mov, avi, mkv, webm, flv, ...) or still images"
    )
    add_dataclass_options(predict, ModelChoice)
    predict.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    add_dataclass_options(predict, RunOn)
    persons = predict.add_argument_group(
        "persons", "every face tracked as a person, with the voice given to the face that speaks"
    )
    persons.add_argument(
        "--persons",
        action="store_true",
        help="predict every person on their own: JSON 'persons' (id, frames, first_seen, last_seen, box, label, "
        "scores, speaking, warnings); label and scores then describe the main speaker, else the person on screen "
        "longest; with --timeline, one row per window and person",
    )
    persons.add_argument(
        "--annotate",
        metavar="OUT.mp4",
        help="also write the video with each person's box, id and top label and a marker on the speaker (implies "
        "--persons; with several videos, a folder for VIDEO.annotated.mp4 files)",
    )
    timeline = predict.add_argument_group(
        "timeline", "emotions over time in long videos, read once with bounded memory"
    )
    timeline.add_argument(
        "--timeline", action="store_true", help="classify sliding windows of each video instead of the whole clip"
    )
    timeline.add_argument("--window", type=float, default=2.0, help="window length in seconds (default: 2.0)")
    timeline.add_argument("--hop", type=float, default=1.0, help="seconds between window starts (default: 1.0)")
    timeline.add_argument(
        "--faces-per-second",
        type=float,
        default=1.0,
        help="frames sampled per second for faces (default: 1.0, two per 2 s window; more costs face-CNN time)",
    )
    timeline.add_argument(
        "--output-dir",
        default=".",
        help="where VIDEO.timeline.csv (or .json with --json) and VIDEO.timeline.png are written "
        "(default: the current folder)",
    )
    add_debug_flag(predict)
    predict.set_defaults(run=run)


def run(args) -> int:
    """Runs `avemo predict`: one result per file (text, or JSON with --json), per person with --persons, or a
    timeline per file with --timeline. Returns the exit status: 1 when any file failed, 2 for flags that do not go
    together."""
    videos, failures = _media_files(args)
    if not videos:
        return 1
    args.persons = args.persons or bool(args.annotate)
    conflict = _conflicting_flags(args, videos)
    if conflict:
        print(f"avemo predict: error: {conflict}", file=sys.stderr)
        return 2
    predictor = _predictor(args)
    if not args.json:  # in JSON every result carries them
        for note in predictor.notes:
            print(f"model: {note}", file=sys.stderr)
    if args.timeline:
        return _run_timelines(args, predictor, videos, failures)
    return _print_predictions(args, predictor, videos, failures)


def _media_files(args) -> tuple[list[str], int]:
    """The files to predict and how many were refused, each refusal printed in one line: missing files and folders
    first, before anything heavy is imported, then files that are not media at all, before the model loads."""
    failures, videos = 0, []
    for video in args.videos:
        problem = path_problem(video)
        if problem and not args.debug:  # with --debug the processor raises it, with its traceback
            failures += 1
            print(f"avemo predict: error: {problem}", file=sys.stderr)
        else:
            videos.append(video)
    if not videos:
        return [], failures
    from avemo.processing import MediaError, probe_media

    readable = []
    for video in videos:
        try:
            probe_media(video)
            readable.append(video)
        except MediaError as error:
            if args.debug:
                raise
            failures += 1
            print(f"avemo predict: error: {error}", file=sys.stderr)
    return readable, failures


def _conflicting_flags(args, videos: list[str]) -> str | None:
    """What is wrong with the flags given together, or None."""
    if args.annotate and len(videos) > 1 and Path(args.annotate).suffix:
        return "--annotate with several videos takes a folder, not a file"
    if len(args.model or []) > 1 or args.weights:
        for flag, wanted in (("--timeline", args.timeline), ("--persons", args.persons)):
            if wanted:
                return f"{flag} takes one --model"
    return None


def _predictor(args):
    """The Predictor of --model (the shipped model when none is given), or an EnsemblePredictor of several."""
    from avemo.inference import EnsemblePredictor, Predictor

    models = args.model or [None]
    if len(models) > 1 or args.weights:
        return EnsemblePredictor(models, weights=args.weights, device=args.device, num_frames=args.num_frames)
    return Predictor(models[0], device=args.device, num_frames=args.num_frames)


def _print_predictions(args, predictor, videos: list[str], failures: int) -> int:
    """Predict each file (the next ones read while the model runs) and print each result or its one-line error as it
    comes, with a bar on a terminal for three files or more. Returns the exit status."""
    from tqdm.auto import tqdm

    from avemo.processing import MediaError, NothingToPredictError

    progress = tqdm(
        total=len(videos),
        desc="predict",
        unit="file",
        disable=len(videos) < 3 or not sys.stderr.isatty(),
        file=sys.stderr,
    )
    results = (
        _annotated_predictions(args, predictor, videos)
        if args.annotate
        else predictor.predict_files(videos, workers=1 if args.debug else 2, persons=args.persons)
    )
    for video, result in results:
        progress.update(1)
        if isinstance(result, (MediaError, NothingToPredictError, OSError)):
            failures += 1
            progress.write(f"avemo predict: error: {result}", file=sys.stderr)
            if args.debug:
                raise result
            continue
        if args.json:
            progress.write(json.dumps(result.to_dict(), ensure_ascii=False), file=sys.stdout)
        else:
            progress.write("\n".join(_prediction_lines(result)), file=sys.stdout)
    progress.close()
    return 1 if failures else 0


def _ranked(scores: dict, top: int | None = None, digits: int = 3) -> str:
    ranked = sorted(scores.items(), key=lambda item: -item[1])[:top]
    return "  ".join(f"{label} {probability:.{digits}f}" for label, probability in ranked)


def _prediction_lines(result) -> list[str]:
    """The text `avemo predict` prints for one file."""
    described = f"  [person {result.person}]" if result.person is not None else ""
    audio = "used" if result.audio_used else "not used"
    lines = [
        f"{result.file}: {result.label}  ({_ranked(result.scores)}){described}",
        f"  faces in {result.frames_used}/{result.frames_sampled} frames, audio {audio}",
    ]
    lines += [f"  warning: {warning}" for warning in result.warnings]
    for person in result.persons or []:
        frames = f"{person.frames} frame{'s' * (person.frames != 1)}"
        seen = f"{person.first_seen:.1f}-{person.last_seen:.1f} s, {frames}" if person.last_seen else frames
        speaking = "" if person.speaking is None else f", speaking {person.speaking:.0%}"
        heard = ", audio used" if person.audio_used else ""
        answer = f"{person.label}  ({_ranked(person.scores, top=3, digits=2)})" if person.label else "not predicted"
        lines.append(f"  person {person.id} ({seen}{speaking}{heard}): {answer}")
        lines += [f"    warning: {warning}" for warning in person.warnings]
    return lines


def _annotation_path(args, video: str) -> Path:
    target = Path(args.annotate)
    if target.suffix and not target.is_dir():
        return target
    return target / f"{Path(video).stem}.annotated.mp4"


def _annotated_predictions(args, predictor, videos):
    """Yield (video, Prediction or error) as predict_files does, writing each annotated video as it goes."""
    from avemo.processing import MediaError, NothingToPredictError

    from avemo.inference.annotate import Overlay, annotate_image, annotate_video

    for video in videos:
        try:
            processed = predictor.process(video, persons=True)
            result = predictor.predict_persons(processed)
        except (MediaError, NothingToPredictError, OSError) as error:
            yield video, error
            continue
        overlay, target = Overlay.from_persons(processed, result), _annotation_path(args, video)
        if not processed.tracks:
            result.notes.append("nothing annotated: no face")
        elif processed.duration:
            result.notes.append(f"annotated video: {annotate_video(video, target, overlay)}")
        else:  # a still image: a picture, not a video
            result.notes.append(f"annotated picture: {annotate_image(video, target.with_suffix('.png'), overlay)}")
        yield video, result


def _run_timelines(args, predictor, videos, failures: int) -> int:
    """`--timeline`: each file's windows classified, written as CSV (or JSON) and a plot, and summarised in one line
    (or a JSON object). Returns the exit status."""
    from tqdm.auto import tqdm

    from avemo.inference.timeline import TimelineBuilder
    from avemo.processing import MediaError

    builder = TimelineBuilder(
        predictor, window=args.window, hop=args.hop, faces_per_second=args.faces_per_second, persons=args.persons
    )
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for video in videos:
        # A bar on a terminal; none in a log file, where the summary line below says what was done.
        with tqdm(
            desc=f"timeline {Path(video).name}", unit="window", file=sys.stderr, disable=not sys.stderr.isatty()
        ) as progress:
            started = time.perf_counter()
            try:
                rows = list(builder.run(video, progress=progress))
            except MediaError as error:
                failures += 1
                print(f"avemo predict: error: {error}", file=sys.stderr)
                continue
        seconds = time.perf_counter() - started  # reading, faces and model (not the files written after)
        summary = _timeline_summary(args, predictor, builder, video, rows, seconds, output_dir)
        if args.json:
            print(json.dumps(summary, ensure_ascii=False))
        else:
            print("\n".join(_timeline_lines(args, summary)))
    return 1 if failures else 0


def _timeline_summary(args, predictor, builder, video: str, rows: list, seconds: float, output_dir: Path) -> dict:
    """Write one file's timeline (CSV or JSON), its plot and, with --annotate, the annotated video; returns the
    summary `--json` prints: windows, the share of each label, timing, the files written, warnings and notes."""
    from collections import Counter

    from avemo.inference.timeline import plot_timeline, write_timeline

    stem = Path(video).stem
    data = write_timeline(
        rows, predictor.labels, output_dir / f"{stem}.timeline.{'json' if args.json else 'csv'}", as_json=args.json
    )
    plot = plot_timeline(
        rows,
        predictor.labels,
        output_dir / f"{stem}.timeline.png",
        title=f"{Path(video).name}: emotion scores per {args.window:g} s window",
    )
    length = max((row.end for row in rows), default=0.0)
    counts = Counter(row.label for row in rows if row.label)
    summary = {
        "file": video,
        "windows": len({row.start for row in rows}),
        "window": args.window,
        "hop": args.hop,
        "labels": {label: round(count / max(1, len(rows)), 4) for label, count in counts.most_common()},
        "windows_without_input": sum(1 for row in rows if not row.label),
        "seconds": round(seconds, 3),  # milliseconds: a short file takes a tenth of a second
        "real_time_factor": round(length / seconds, 2) if seconds > 0 else None,
        "timeline": str(data),
        "plot": str(plot),
        "warnings": predictor.load_warnings,
        "notes": predictor.notes,
    }
    if args.persons:
        summary["persons"] = _timeline_persons(rows)
    if args.annotate:
        from avemo.inference.annotate import Overlay, annotate_video

        overlay = Overlay.from_timeline(builder.tracks, rows)
        summary["annotated"] = str(annotate_video(video, _annotation_path(args, video), overlay))
    return summary


def _timeline_lines(args, summary: dict) -> list[str]:
    """The text a timeline prints: one line for the file, then its persons, the annotated video and warnings."""
    share = (
        ", ".join(f"{label} {value:.0%}" for label, value in summary["labels"].items())
        or "no window had a face or audio"
    )
    lines = [
        f"{summary['file']}: {summary['windows']} windows of {args.window:g} s every {args.hop:g} s: {share} -> "
        f"{summary['timeline']}, {summary['plot']} ({summary['seconds']:.1f} s, {summary['real_time_factor']}x real "
        "time)"
    ]
    for person in summary.get("persons", []):
        share = ", ".join(f"{label} {value:.0%}" for label, value in person["labels"].items())
        lines.append(f"  person {person['id']}: {person['windows']} windows, speaking in {person['speaking']}: {share}")
    if args.annotate:
        lines.append(f"  annotated video: {summary['annotated']}")
    lines += [f"  warning: {warning}" for warning in summary["warnings"]]
    return lines


def _timeline_persons(rows) -> list[dict]:
    """Per person of a persons timeline: windows, windows speaking and the share of each winning label."""
    from collections import Counter

    people: dict = {}
    for row in rows:
        if row.person is not None:
            people.setdefault(row.person, []).append(row)
    summary = []
    for person, own in sorted(people.items(), key=lambda item: (-len(item[1]), item[0])):
        counts = Counter(row.label for row in own if row.label)
        summary.append(
            {
                "id": person,
                "windows": len(own),
                "speaking": sum(row.speaking for row in own),
                "labels": {label: round(count / len(own), 4) for label, count in counts.most_common()},
            }
        )
    return summary
