"""Runs exported `.tflite` files in MediaPipe Tasks' `ImageClassifier`.

Runs in a virtual environment of its own (mediapipe and numpy: mediapipe
cannot share one with tensorflow-model-optimization), started by
tests/tflite_export/tflite/test_mediapipe.py as

    python mediapipe_classify.py job.json result.json

`job.json`: `{"images": "images.npy", "files": ["a.tflite", ...]}`, the
images a uint8 array `(n, height, width, 3)`, RGB. For each file it creates
an `ImageClassifier` (running mode IMAGE, every category), classifies each
image given as an SRGB `mp.Image`, and writes `result.json`:
`{file: {"scores": n x classes, "names": [class name of each index],
"head": head name} or {"error": message}}`; the file's TFLite Model
Metadata, decoded by MediaPipe's own generated schema module, goes under
`"metadata"`. All files run in this one process to save start-up time.
"""

import json
import sys

import mediapipe as mp
import numpy as np
from mediapipe.tasks import python as mp_tasks
from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_fb
from mediapipe.tasks.metadata import schema_py_generated as model_fb
from mediapipe.tasks.python import vision


def _metadata(path):
    """The metadata's main fields, as MediaPipe's generated schema reads them."""
    with open(path, "rb") as f:
        content = f.read()
    model = model_fb.Model.GetRootAsModel(content, 0)
    for i in range(model.MetadataLength()):
        if model.Metadata(i).Name().decode() == "TFLITE_METADATA":
            data = model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy().tobytes()
            meta = metadata_fb.ModelMetadataT.InitFromObj(
                metadata_fb.ModelMetadata.GetRootAsModelMetadata(data, 0)
            )
            subgraph = meta.subgraphMetadata[0]
            tensor_in, tensor_out = (
                subgraph.inputTensorMetadata[0],
                subgraph.outputTensorMetadata[0],
            )
            units = [u.options for u in tensor_in.processUnits or []]
            props = tensor_in.content.contentProperties
            return {
                "name": meta.name.decode(),
                "version": meta.version.decode(),
                "min_parser_version": meta.minParserVersion.decode(),
                "color_space": getattr(props, "colorSpace", None),
                "size": [props.defaultSize.width, props.defaultSize.height]
                if getattr(props, "defaultSize", None)
                else None,
                "mean": [float(v) for v in units[0].mean] if units else None,
                "std": [float(v) for v in units[0].std] if units else None,
                "output": tensor_out.name.decode(),
                "label_files": [
                    (f.name.decode(), f.type) for f in tensor_out.associatedFiles or []
                ],
            }
    return None


def classify(path, images):
    options = vision.ImageClassifierOptions(
        base_options=mp_tasks.BaseOptions(model_asset_path=path),
        running_mode=vision.RunningMode.IMAGE,
        max_results=-1,
    )
    with vision.ImageClassifier.create_from_options(options) as classifier:
        scores, names, head = [], {}, None
        for image in images:
            frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
            result = classifier.classify(frame).classifications[0]
            head = result.head_name
            row = [None] * len(result.categories)
            for category in result.categories:
                row[category.index] = category.score
                names[category.index] = category.category_name
            scores.append(row)
    return {"scores": scores, "names": [names[i] for i in sorted(names)], "head": head}


def main(job_path, result_path):
    with open(job_path) as f:
        job = json.load(f)
    images = np.load(job["images"])
    results = {}
    for path in job["files"]:
        try:
            results[path] = classify(path, images)
        except Exception as error:  # reported per file; the test asserts on it
            results[path] = {"error": f"{type(error).__name__}: {error}"}
        try:
            results[path]["metadata"] = _metadata(path)
        except Exception as error:
            results[path]["metadata"] = {"error": f"{type(error).__name__}: {error}"}
    with open(result_path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
