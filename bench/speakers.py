"""Speaker attribution on two-person videos composed from the shared media: how often the 2 s stretches of speech go
to the face whose audio was kept, and how often tracks swap ids.

The shared media hold no face recorded with its own speech, so the speaker is a RAVDESS face whose jaw opens with
the loudness of real CREMA-D speech (tests/talking_faces.py). Groups (each both ways round, left and right):
- "real distractor": the speaker beside the real Pexels face (expressive, its mouth moving all the time), muted;
- "two speakers": two such faces saying different things (the other's sentences 1.1 s later), one audio kept;
- "in lockstep": the same, the other's sentences starting at the same times (a hard case: both say the same
  sentence of the same length, so their mouths open and close together);
- "off-screen voice": a still face (no mouth motion) beside the Pexels face, the speech from neither: counted are
  the stretches wrongly given to a face (the energy detector cannot tell an off-screen voice).
Measured on clips (`processor.process_video(path, persons=True)`, 2 s stretches) and on timelines (2 s windows
every 1 s). Prints a table; nothing is written but temporary videos.

    python bench/speakers.py [--sentences 6]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests"))

import talking_faces as talk  # noqa: E402


def compose(folder: Path, sentences: int) -> list[tuple[str, Path, str | None]]:
    """(group, video, side of the kept audio's face or None)."""
    order = list(range(6))[:sentences]
    first = talk.speech(DATA, order)
    later = np.concatenate([np.zeros(int(1.1 * talk.RATE), np.float32), talk.speech(DATA, order[::-1])])[: len(first)]
    lockstep = talk.speech(DATA, order[1:] + order[:1])[: len(first)]
    frames = int(len(first) / talk.RATE * talk.FPS)
    pexels = DATA / "video" / "WolfgangLanger_Pexels.mp4"
    videos = []
    for index, actor in enumerate((1, 12)):
        speaker = talk.speaker_frames(DATA, actor, first, frames, seed=index)
        other = talk.video_frames(pexels, frames, offset=4.0 * index)
        videos.append(
            ("real distractor", talk.side_by_side(folder / f"real{index}l.mp4", speaker, other, first), "left")
        )
        videos.append(
            ("real distractor", talk.side_by_side(folder / f"real{index}r.mp4", other, speaker, first), "right")
        )
    a = talk.speaker_frames(DATA, 5, first, frames, seed=3)
    b = talk.speaker_frames(DATA, 8, later, frames, seed=4)
    c = talk.speaker_frames(DATA, 8, lockstep, frames, seed=5)
    videos.append(("two speakers", talk.side_by_side(folder / "two_a.mp4", a, b, first), "left"))
    videos.append(("two speakers", talk.side_by_side(folder / "two_b.mp4", a, b, later), "right"))
    videos.append(("two speakers", talk.side_by_side(folder / "two_c.mp4", b, a, first), "right"))
    videos.append(("two speakers", talk.side_by_side(folder / "two_d.mp4", b, a, later), "left"))
    videos.append(("in lockstep", talk.side_by_side(folder / "lock_a.mp4", a, c, first), "left"))
    videos.append(("in lockstep", talk.side_by_side(folder / "lock_b.mp4", a, c, lockstep), "right"))
    still = talk.speaker_frames(DATA, 3, np.zeros_like(first), frames, seed=6)
    videos.append(
        (
            "off-screen voice",
            talk.side_by_side(folder / "off.mp4", still, talk.video_frames(pexels, frames), first),
            None,
        )
    )
    return videos


def has_speech(path: Path, start: float, window: float = 2.0) -> bool:
    """Whether the window holds speech as avemo counts it (0.2 s of frames loud enough)."""
    from avemo.processing import read_audio
    from avemo.processing.speaker_attribution_avemo import log_energy, speech_mask

    audio = read_audio(path, talk.RATE)
    times = np.arange(start, start + window, 1 / talk.FPS)
    return speech_mask(log_energy(audio, talk.RATE, times)).sum() / talk.FPS >= 0.2


def side(box) -> str:
    return "left" if (box[0] + box[2]) / 2 < talk.PANEL[0] else "right"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=6, help="CREMA-D sentences per video (about 2.3 s each)")
    args = parser.parse_args()
    from avemo.inference import Predictor
    from avemo.model_folders.create import init_model_folder
    from avemo.inference.timeline import TimelineBuilder
    from modeling_avemo import AVEmoConfig

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        started = time.perf_counter()
        videos = compose(scratch, args.sentences)
        print(f"composed {len(videos)} videos in {time.perf_counter() - started:.0f} s\n")
        # Which face gets the audio does not depend on the weights: an untrained audio-video model will do.
        tiny = AVEmoConfig(face_stage_depths=[1, 1, 1, 1], face_stage_widths=[4, 4, 8, 8], face_embedding_size=16)
        predictor = Predictor(init_model_folder(scratch / "model", tiny), device="cpu")
        totals: dict = {}
        for group, path, kept in videos:
            video = predictor.processor.process_video(path, persons=True)
            sides = {track.id: side(track.boxes[0]) for track in video.tracks}
            switches = sum(len({side(box) for box in track.boxes}) > 1 for track in video.tracks)
            switches += max(0, len(video.tracks) - 2)  # a person split in two, or a third track
            given = [sides.get(s.speaker) for s in video.stretches if s.speech_seconds > 0]
            builder = TimelineBuilder(predictor, window=2.0, hop=1.0, persons=True)
            rows = list(builder.run(path))
            tl_sides = {track.id: side(track.boxes[0]) for track in builder.tracks}
            speaking_windows = {row.start: tl_sides[row.person] for row in rows if row.speaking}
            windows_with_speech = [start for start in sorted({row.start for row in rows}) if has_speech(path, start)]
            entry = totals.setdefault(group, {"clip": [0, 0], "timeline": [0, 0], "switches": 0, "videos": 0})
            entry["videos"] += 1
            entry["switches"] += switches
            if kept is None:  # off-screen voice: the stretches (windows) given to some face are the errors
                entry["clip"][0] += sum(g is not None for g in given)
                entry["clip"][1] += len(given)
                entry["timeline"][0] += sum(start in speaking_windows for start in windows_with_speech)
                entry["timeline"][1] += len(windows_with_speech)
            else:
                entry["clip"][0] += sum(g == kept for g in given)
                entry["clip"][1] += len(given)
                entry["timeline"][0] += sum(speaking_windows.get(start) == kept for start in windows_with_speech)
                entry["timeline"][1] += len(windows_with_speech)
        print(
            "| group | videos | clip: 2 s stretches to the right face | timeline: 2 s windows to the right face "
            "| id switches |"
        )
        print("| --- | --- | --- | --- | --- |")
        found = [0, 0]
        for group, entry in totals.items():
            clip, timeline = entry["clip"], entry["timeline"]
            if group == "off-screen voice":
                print(
                    f"| {group} | {entry['videos']} | given to a face (wrongly): {clip[0]}/{clip[1]} | "
                    f"{timeline[0]}/{timeline[1]} | {entry['switches']} |"
                )
                continue
            found[0], found[1] = found[0] + clip[0], found[1] + clip[1]
            print(
                f"| {group} | {entry['videos']} | {clip[0]}/{clip[1]} = {clip[0] / max(1, clip[1]):.1%} | "
                f"{timeline[0]}/{timeline[1]} = {timeline[0] / max(1, timeline[1]):.1%} | {entry['switches']} |"
            )
        print(
            f"\nspeaker found in {found[0]}/{found[1]} = {found[0] / max(1, found[1]):.1%} of the 2 s stretches with "
            "speech (the groups with a kept speaker)"
        )


if __name__ == "__main__":
    main()
