"""Run the processor once per clip and keep what training needs, so that epochs never decode video or run
face detection again.

`cache_features` maps a corpus dataset (path, label, speaker, ...) to one with `faces` (the aligned uint8 crops
of the frames with a face, as the raw bytes of a (frames, S, S, 3) array: exact, compact, and read back without
a per-pixel conversion; see `faces_array`), `waveform` (mono float32 at the extractor's rate, empty without audio),
`frames_sampled`, `warnings` and `error`. The work is split into shards, each its own Arrow cache file under
`cache_dir`, named after the processor settings and the shard's rows: a run that stops half-way resumes with
the shards it has not finished, and a second run with the same settings reads everything from disk.
"""

import hashlib
import json
from pathlib import Path

import numpy as np


def faces_array(faces, face_size: int) -> np.ndarray:
    """A row's `faces` as a (frames, S, S, 3) uint8 array (from the cached bytes, or an array already)."""
    if isinstance(faces, (bytes, bytearray, memoryview)):
        return np.frombuffer(faces, dtype=np.uint8).reshape(-1, face_size, face_size, 3)
    return np.asarray(faces, dtype=np.uint8).reshape(-1, face_size, face_size, 3)


def _clip_features(example, processor):
    """One row: the processor's faces and audio, or the reason the clip cannot be used."""
    from avemo.processing import MediaError, NothingToPredictError

    empty = {"faces": b"", "waveform": np.zeros(0, np.float32), "frames_sampled": 0, "warnings": []}
    try:
        clip = processor.process_video(example["path"])
    except (MediaError, NothingToPredictError, OSError) as error:
        return {**empty, "error": str(error)}
    faces = np.stack([face.crop for face in clip.faces]).tobytes() if clip.faces else b""
    waveform = clip.audio if clip.has_audio else empty["waveform"]
    return {
        "faces": faces,
        "waveform": waveform,
        "frames_sampled": clip.frames_sampled,
        "warnings": clip.warnings,
        "error": "",
    }


def cache_features(
    dataset, processor, cache_dir, num_proc: int = 1, shard_size: int = 256, desc: str = "faces + audio"
):
    """The dataset with cached processor outputs (see the module docstring). Rows that failed keep their `error`."""
    import datasets

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    features = datasets.Features(
        {
            **dataset.features,
            "faces": datasets.Value("binary"),
            "waveform": datasets.List(datasets.Value("float32")),
            "frames_sampled": datasets.Value("int32"),
            "warnings": datasets.List(datasets.Value("string")),
            "error": datasets.Value("string"),
        }
    )
    settings = hashlib.sha256(processor.to_json_string().encode()).hexdigest()[:12]
    shards = []
    count = max(1, -(-len(dataset) // shard_size))
    for index in range(count):
        shard = dataset.select(range(index * shard_size, min(len(dataset), (index + 1) * shard_size)))
        rows = hashlib.sha256(json.dumps(list(shard["path"])).encode()).hexdigest()[:12]
        shards.append(
            shard.map(
                _clip_features,
                fn_kwargs={"processor": processor},
                features=features,
                num_proc=min(num_proc, len(shard)) if num_proc > 1 else None,
                cache_file_name=str(cache_dir / f"clips-{settings}-{rows}.arrow"),
                new_fingerprint=f"avemo-{settings}-{rows}",
                load_from_cache_file=True,
                desc=f"{desc} {index + 1}/{count}" if count > 1 else desc,
            )
        )
    cached = datasets.concatenate_datasets(shards) if len(shards) > 1 else shards[0]
    # Rows as NumPy arrays: nested Python lists of pixels would dominate the data loading time.
    return cached.with_format("numpy", columns=["waveform"], output_all_columns=True)


def drop_failed(dataset, log=print):
    """Rows whose clip could not be processed, reported (file and reason) and removed."""
    failed = [(path, error) for path, error in zip(dataset["path"], dataset["error"]) if error]
    for path, error in failed[:20]:
        log(f"skipped {error}" if path in error else f"skipped {path}: {error}")
    if len(failed) > 20:
        log(f"... and {len(failed) - 20} more clips skipped")
    if not failed:
        return dataset
    keep = [index for index, error in enumerate(dataset["error"]) if not error]
    return dataset.select(keep)
