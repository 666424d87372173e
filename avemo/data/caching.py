"""Run the processor once per clip (or find the face of each picture, for `avemo train-faces`) and keep what
training needs, so that epochs never decode video or run face detection again.

`cache_features` maps a corpus dataset (path, label, speaker, ...) to one with `faces` (the aligned uint8 crops
of the frames with a face, as the raw bytes of a (frames, S, S, 3) array: exact, compact, and read back without
a per-pixel conversion; see `faces_array`), `waveform` (mono float32 at the extractor's rate, empty without audio),
`frames_sampled`, `warnings` and `error`. The work is split into shards, each its own Arrow cache file under
`cache_dir`, named after the processor settings and the shard's rows: a run that stops half-way resumes with
the shards it has not finished, and a second run with the same settings reads everything from disk.
`cache_image_faces` keeps one face crop per picture of an image corpus the same way (`cached_map`).
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


def digest(text: str) -> str:
    """A short name for settings or rows: the first 12 hex digits of the text's SHA-256."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cached_map(dataset, function, fn_kwargs: dict, features, cache_file: Path, num_proc: int, desc: str, **kwargs):
    """`dataset.map(function)` whose result lives in `cache_file` (named by the caller after the settings and the
    rows): the same settings and rows are read back from it instead of computed again. Returns the mapped dataset."""
    return dataset.map(
        function,
        fn_kwargs=fn_kwargs,
        features=features,
        num_proc=min(num_proc, len(dataset)) if num_proc > 1 else None,
        cache_file_name=str(cache_file),
        new_fingerprint=f"avemo-{cache_file.stem}",
        load_from_cache_file=True,
        desc=desc,
        **kwargs,
    )


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
    settings = digest(processor.to_json_string())
    shards = []
    count = max(1, -(-len(dataset) // shard_size))
    for index in range(count):
        shard = dataset.select(range(index * shard_size, min(len(dataset), (index + 1) * shard_size)))
        rows = digest(json.dumps(list(shard["path"])))
        shards.append(
            cached_map(
                shard,
                _clip_features,
                {"processor": processor},
                features,
                cache_dir / f"clips-{settings}-{rows}.arrow",
                num_proc,
                f"{desc} {index + 1}/{count}" if count > 1 else desc,
            )
        )
    cached = datasets.concatenate_datasets(shards) if len(shards) > 1 else shards[0]
    # Rows as NumPy arrays: nested Python lists of pixels would dominate the data loading time.
    return cached.with_format("numpy", columns=["waveform"], output_all_columns=True)


# A folder picture this small in which no face is found is taken to be a face crop already.
PRECROPPED_MAX_SIDE = 160


def _image_face(example, aligner):
    """One row: the face crop of its image (as cached clips hold faces) or why there is none."""
    from avemo.processing.face_alignment_avemo import as_rgb_uint8

    try:
        image = as_rgb_uint8(np.asarray(example["image"].convert("RGB")), example["path"])
        height, width = image.shape[:2]
        if example["precropped"]:
            face, how = aligner.align_in_box(image), "taken whole (a face crop already)"
        elif example["box"]:
            face, how = aligner.align_in_box(image, example["box"], detector="annotated box"), "annotated box"
        else:
            face, how = aligner.align(image), "detected"
            if face is None and max(height, width) <= PRECROPPED_MAX_SIDE:
                face, how = aligner.align_in_box(image), f"no face found in a {width}x{height} picture: taken whole"
        if face is None:
            return {"faces": b"", "how": "", "error": f"{example['path']}: no face found"}
    except (OSError, ValueError) as error:
        return {"faces": b"", "how": "", "error": f"{example['path']}: {error}"}
    return {"faces": face.crop[None].tobytes(), "how": how, "error": ""}


def cache_image_faces(splits: dict, processor, cache_dir, data_key: str, num_proc: int = 1) -> dict:
    """Each split with `faces` (one crop, the bytes of a (1, S, S, 3) uint8 array), `how` and `error`, computed
    once per recipe and corpus and kept under `cache_dir`."""
    import datasets

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    settings = digest(processor.to_json_string() + data_key)
    aligner = processor.aligner
    cached = {}
    for name, split in splits.items():
        rows = digest(json.dumps([list(split["path"]), list(split["label"])]))
        kept = {key: value for key, value in split.features.items() if key != "image"}  # the crops replace the pictures
        features = datasets.Features(
            {
                **kept,
                "faces": datasets.Value("binary"),
                "how": datasets.Value("string"),
                "error": datasets.Value("string"),
            }
        )
        cached[name] = cached_map(
            split,
            _image_face,
            {"aligner": aligner},
            features,
            cache_dir / f"faces-{name}-{settings}-{rows}.arrow",
            num_proc,
            f"faces of the {name} images",
            remove_columns=["image"],
        )
    return cached


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
