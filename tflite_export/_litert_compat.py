"""Every use of a private LiteRT (`ai_edge_litert`) API, in one place.

The interpreter's public methods give tensor details but not the ops, nor
the signature's tensor indices, and the flatbuffer schema module is
generated code rather than documented API. Each use is wrapped here by a
small function, so that an ai-edge-litert release that moves one breaks
this module, and `check_internals()` (run by the test suite) names the
internal and the installed version, instead of an evaluation failing deep
inside.
"""

import importlib
import importlib.metadata


def _interpreter_class():
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter


def _schema():
    return importlib.import_module("ai_edge_litert.schema_py_generated")


# (description, probe) pairs: each probe returns True when the internal exists.
_INTERNALS = {
    "Interpreter._get_ops_details": lambda: hasattr(_interpreter_class(), "_get_ops_details"),
    "Interpreter._get_full_signature_list": lambda: hasattr(
        _interpreter_class(), "_get_full_signature_list"
    ),
    "ai_edge_litert.schema_py_generated.Model.GetRootAsModel": lambda: hasattr(
        _schema().Model, "GetRootAsModel"
    ),
}


def litert_version():
    """The installed ai-edge-litert version, e.g. `"2.3.0"`."""
    try:
        return importlib.metadata.version("ai-edge-litert")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _present(probe):
    try:
        return bool(probe())
    except Exception:  # An internal that moved may fail in any way.
        return False


def check_internals():
    """Raises if a LiteRT internal that tflite_export reads is missing.

    Returns:
        The list of internals checked.

    Raises:
        RuntimeError: Naming the missing internals and the installed
            ai-edge-litert version.

    Example:

    >>> check_internals()[0]
    'Interpreter._get_ops_details'
    """
    missing = [name for name, probe in _INTERNALS.items() if not _present(probe)]
    if missing:
        raise RuntimeError(
            "tflite_export relies on LiteRT internals that ai-edge-litert "
            f"{litert_version()} does not have: {missing}. Install an "
            "ai-edge-litert version keras-kd supports (see pyproject.toml), "
            "or report this at the keras-kd issue tracker with your version."
        )
    return list(_INTERNALS)


def ops_details(interpreter):
    """One dict per op of a LiteRT `Interpreter`: `op_name`, `inputs`, `outputs`."""
    return interpreter._get_ops_details()


def signature_list(interpreter):
    """`{signature: {"inputs": {name: index}, "outputs": {...}}}` of an interpreter.

    The only API that gives the signatures' tensor indices.
    """
    return interpreter._get_full_signature_list()


def flatbuffer_model(content):
    """The `.tflite` flatbuffer `content` (bytes) as the schema's `Model` object."""
    return _schema().Model.GetRootAsModel(content, 0)


def with_model_metadata(content, name, data):
    """`content` (a `.tflite` flatbuffer) with `data` as its metadata `name`.

    As the official metadata writer does: the model is unpacked with the
    schema's object API, `data` goes into a new buffer (replacing the one an
    entry of that name already has) and the model is packed again. Buffers
    are re-packed on 16-byte boundaries, the schema's `force_align` for them.
    """
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    if any(b.offset > 1 for b in model.buffers or []):
        raise ValueError(
            "This .tflite keeps its weights outside the flatbuffer (a model over "
            "2 GB); metadata cannot be added to it. Pass metadata=False."
        )
    model.buffers = [_aligned_buffer(schema, b.data) for b in model.buffers or []]
    entry = next((m for m in model.metadata or [] if m.name.decode() == name), None)
    if entry is None:
        entry = schema.MetadataT()
        entry.name = name
        entry.buffer = len(model.buffers)
        model.buffers.append(None)
        model.metadata = (model.metadata or []) + [entry]
    model.buffers[entry.buffer] = _aligned_buffer(schema, data)
    builder = _flatbuffers().Builder(len(content) + len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def model_metadata(content, name):
    """The bytes of the metadata entry `name` of a `.tflite`, or None."""
    model = flatbuffer_model(content)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name().decode() == name:
            buffer = model.Buffers(entry.Buffer())
            return buffer.DataAsNumpy().tobytes() if buffer.DataLength() else None
    return None


def _flatbuffers():
    return importlib.import_module("flatbuffers")


def _aligned_buffer(schema, data):
    class AlignedBuffer(schema.BufferT):
        def Pack(self, builder):
            payload = b"" if self.data is None else bytes(memoryview(self.data).cast("B"))
            vector = None
            if payload:
                builder.StartVector(1, len(payload), 16)
                builder.head -= len(payload)
                builder.Bytes[builder.head : builder.head + len(payload)] = payload
                vector = builder.EndVector(len(payload))
            schema.BufferStart(builder)
            if vector is not None:
                schema.BufferAddData(builder, vector)
            return schema.BufferEnd(builder)

    buffer = AlignedBuffer()
    buffer.data = data
    return buffer
