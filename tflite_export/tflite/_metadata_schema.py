"""TFLite Model Metadata, written and read with the `flatbuffers` package.

The schema is `metadata_schema.fbs` (namespace `tflite`, file identifier
`"M001"`), the one MediaPipe Tasks and the LiteRT support library read;
this module was written against schema version 1.5.0 as shipped in
`mediapipe` 1.2.3 (`mediapipe/tasks/metadata/metadata_schema.fbs`). It uses
only fields present since 1.0.0, so every file records
`min_parser_version` `MIN_PARSER_VERSION`.

No maintained writer installs beside TensorFlow 2.21 (tflite-support 0.4.4
pins protobuf<4; mediapipe's own writer fails to import in mediapipe 1.2.x),
so the few tables keras-kd writes are laid out here by hand: a table is a
list of `(slot, kind, value)` rows, the slot being the field's position in
the schema's table (a union field takes two slots: its type, then its
value). The reader is the same table walked back.
"""

import flatbuffers
import numpy as np
from flatbuffers import number_types
from flatbuffers.table import Table

SCHEMA_VERSION = "1.5.0"
MIN_PARSER_VERSION = "1.0.0"
FILE_IDENTIFIER = b"M001"

# Enums of the schema.
ASSOCIATED_FILE_TENSOR_AXIS_LABELS = 2
COLOR_SPACES = {1: "RGB", 2: "GRAYSCALE"}
CONTENT_FEATURE, CONTENT_IMAGE = 1, 2  # ContentProperties union members
PROCESS_UNIT_NORMALIZATION = 1  # ProcessUnitOptions union member

# Field slots, in the schema's order.
MODEL = dict(
    name=0, description=1, version=2, subgraph_metadata=3, author=4, license=5, min_parser_version=7
)
SUBGRAPH = dict(name=0, description=1, input_tensor_metadata=2, output_tensor_metadata=3)
TENSOR = dict(name=0, description=1, content=3, process_units=4, stats=5, associated_files=6)
CONTENT = dict(content_properties_type=0, content_properties=1)
IMAGE_PROPERTIES = dict(color_space=0, default_size=1)
IMAGE_SIZE = dict(width=0, height=1)
PROCESS_UNIT = dict(options_type=0, options=1)
NORMALIZATION = dict(mean=0, std=1)
STATS = dict(max=0, min=1)
ASSOCIATED_FILE = dict(name=0, description=1, type=2)

_SCALARS = {
    "byte": (number_types.Int8Flags, "PrependInt8Slot"),
    "ubyte": (number_types.Uint8Flags, "PrependUint8Slot"),
    "uint": (number_types.Uint32Flags, "PrependUint32Slot"),
}


def _vector_of_offsets(builder, offsets):
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _write(builder, rows):
    """Writes one table; its children first, as flatbuffers requires."""
    children = []
    for slot, kind, value in rows:
        if value is None:
            continue
        if kind == "string":
            children.append((slot, builder.CreateString(value)))
        elif kind == "table":
            children.append((slot, _write(builder, value)))
        elif kind == "tables":
            offsets = [_write(builder, t) for t in value]
            children.append((slot, _vector_of_offsets(builder, offsets)))
        elif kind == "floats":
            children.append((slot, builder.CreateNumpyVector(np.asarray(value, "<f4"))))
    builder.StartObject(1 + max((slot for slot, _, _ in rows), default=-1))
    for slot, offset in children:
        builder.PrependUOffsetTRelativeSlot(slot, offset, 0)
    for slot, kind, value in rows:
        if kind in _SCALARS and value is not None:
            getattr(builder, _SCALARS[kind][1])(slot, value, 0)
    return builder.EndObject()


def associated_file(name, description, file_type):
    return [
        (ASSOCIATED_FILE["name"], "string", name),
        (ASSOCIATED_FILE["description"], "string", description),
        (ASSOCIATED_FILE["type"], "byte", file_type),
    ]


def image_content(color_space, width, height):
    """A `Content` table holding `ImageProperties`; `color_space` 1 is RGB."""
    size = [(IMAGE_SIZE["width"], "uint", width), (IMAGE_SIZE["height"], "uint", height)]
    properties = [
        (IMAGE_PROPERTIES["color_space"], "byte", color_space),
        (IMAGE_PROPERTIES["default_size"], "table", size),
    ]
    return [
        (CONTENT["content_properties_type"], "ubyte", CONTENT_IMAGE),
        (CONTENT["content_properties"], "table", properties),
    ]


def feature_content():
    """A `Content` table holding (empty) `FeatureProperties`."""
    return [
        (CONTENT["content_properties_type"], "ubyte", CONTENT_FEATURE),
        (CONTENT["content_properties"], "table", []),
    ]


def normalization_unit(mean, std):
    """A `ProcessUnit` holding `NormalizationOptions`."""
    options = [(NORMALIZATION["mean"], "floats", mean), (NORMALIZATION["std"], "floats", std)]
    return [
        (PROCESS_UNIT["options_type"], "ubyte", PROCESS_UNIT_NORMALIZATION),
        (PROCESS_UNIT["options"], "table", options),
    ]


def tensor(name, description, content, process_units=None, stats=None, files=None):
    """A `TensorMetadata` table; `stats` is `(min, max)` lists or None."""
    stats_rows = None
    if stats is not None:
        stats_rows = [(STATS["max"], "floats", stats[1]), (STATS["min"], "floats", stats[0])]
    return [
        (TENSOR["name"], "string", name),
        (TENSOR["description"], "string", description),
        (TENSOR["content"], "table", content),
        (TENSOR["process_units"], "tables", process_units or None),
        (TENSOR["stats"], "table", stats_rows),
        (TENSOR["associated_files"], "tables", files or None),
    ]


def model_metadata(name, description, version, author, license, inputs, outputs):
    """The metadata flatbuffer's bytes: one subgraph with these tensors."""
    subgraph = [
        (SUBGRAPH["name"], "string", name),
        (SUBGRAPH["input_tensor_metadata"], "tables", inputs),
        (SUBGRAPH["output_tensor_metadata"], "tables", outputs),
    ]
    root = [
        (MODEL["name"], "string", name),
        (MODEL["description"], "string", description),
        (MODEL["version"], "string", version),
        (MODEL["subgraph_metadata"], "tables", [subgraph]),
        (MODEL["author"], "string", author),
        (MODEL["license"], "string", license),
        (MODEL["min_parser_version"], "string", MIN_PARSER_VERSION),
    ]
    builder = flatbuffers.Builder(1024)
    builder.Finish(_write(builder, root), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


class Reader:
    """One table of a metadata flatbuffer, read field by field (None if absent)."""

    def __init__(self, table):
        self._table = table

    @classmethod
    def root(cls, buffer):
        buffer = bytes(buffer)
        if len(buffer) < 8 or buffer[4:8] != FILE_IDENTIFIER:
            raise ValueError("not a TFLite metadata flatbuffer (identifier M001 missing)")
        start = flatbuffers.encode.Get(flatbuffers.packer.uoffset, buffer, 0)
        return cls(Table(bytearray(buffer), start))

    def _offset(self, slot):
        return self._table.Offset(4 + 2 * slot)

    def string(self, slot):
        o = self._offset(slot)
        return self._table.String(o + self._table.Pos).decode("utf-8") if o else None

    def scalar(self, slot, kind):
        o = self._offset(slot)
        return self._table.Get(_SCALARS[kind][0], o + self._table.Pos) if o else 0

    def table(self, slot):
        o = self._offset(slot)
        if not o:
            return None
        return Reader(Table(self._table.Bytes, self._table.Indirect(o + self._table.Pos)))

    def tables(self, slot):
        o = self._offset(slot)
        if not o:
            return []
        start = self._table.Vector(o)
        return [
            Reader(Table(self._table.Bytes, self._table.Indirect(start + 4 * i)))
            for i in range(self._table.VectorLen(o))
        ]

    def floats(self, slot):
        o = self._offset(slot)
        if not o:
            return None
        return [float(v) for v in self._table.GetVectorAsNumpy(number_types.Float32Flags, o)]
