"""What a `.tflite` file holds, read with the LiteRT interpreter.

Works in any process (no TensorFlow needed): input and output tensors with
their dtypes and quantization parameters, the ops, and the dtypes of the
weights each op reads. `convert` uses it to describe what it wrote, and the
tests use it to check that int8 files really hold int8 kernels.
"""

import dataclasses
import os
from typing import Any

import numpy as np

from tflite_export import _litert_compat


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One input or output tensor of a `.tflite` signature.

    Attributes:
        name: The signature's name for the tensor (e.g. `"logits"`).
        shape: Shape with `-1` for a free dimension (the batch).
        dtype: NumPy dtype name, e.g. `"float32"` or `"int8"`.
        scale: Quantization scale (`real = scale * (q - zero_point)`), or
            `None` for a float tensor.
        zero_point: Quantization zero point, or `None` for a float tensor.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"shape": list(self.shape)}


def interpreter(path_or_bytes, num_threads=None):
    """A LiteRT `Interpreter` for a file path or flatbuffer bytes."""
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(path_or_bytes, (bytes, bytearray)):
        return Interpreter(model_content=bytes(path_or_bytes), num_threads=num_threads)
    return Interpreter(model_path=str(path_or_bytes), num_threads=num_threads)


def _tensor_info(detail, name):
    scale, zero_point = detail["quantization"]
    quantized = scale != 0.0
    shape = detail.get("shape_signature")
    if shape is None or len(shape) == 0:
        shape = detail["shape"]
    return TensorInfo(
        name=name,
        shape=tuple(int(d) for d in shape),
        dtype=np.dtype(detail["dtype"]).name,
        scale=float(scale) if quantized else None,
        zero_point=int(zero_point) if quantized else None,
    )


def signature_tensors(litert):
    """`(inputs, outputs)` as lists of `TensorInfo`, in the interpreter's order.

    Names come from the `serving_default` signature when the file has one,
    else from the tensors themselves.
    """
    names = {}
    signatures = _litert_compat.signature_list(litert)
    if signatures:
        signature = signatures.get("serving_default") or next(iter(signatures.values()))
        for which in ("inputs", "outputs"):
            names.update({index: name for name, index in signature[which].items()})

    def describe(details):
        return [_tensor_info(d, names.get(d["index"], d["name"])) for d in details]

    return describe(litert.get_input_details()), describe(litert.get_output_details())


@dataclasses.dataclass(frozen=True)
class SizeBreakdown:
    """Where the bytes of a `.tflite` file go.

    Attributes:
        total: File size in bytes.
        tensor_data: Bytes of constant tensor data: the weights and biases.
        quantization: Bytes of quantization parameters (a float32 scale and
            an int64 zero point per tensor, or per channel of a per-channel
            quantized kernel).
        other: The rest: the graph (ops, tensor descriptions and names),
            the signature, metadata and alignment padding.
    """

    total: int
    tensor_data: int
    quantization: int

    @property
    def other(self) -> int:
        return self.total - self.tensor_data - self.quantization


def size_breakdown(path: str | os.PathLike) -> SizeBreakdown:
    """Reads a `.tflite` flatbuffer and tells where its bytes go.

    Args:
        path: Path of a `.tflite` file.

    Returns:
        A `SizeBreakdown`.

    Example:

    >>> import os, tempfile, keras, tflite_export
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.tflite")
    >>> _ = tflite_export.convert(model, path, sidecar=False, verbose=0)
    >>> breakdown = size_breakdown(path)
    >>> breakdown.total == os.path.getsize(path), breakdown.quantization
    (True, 0)
    >>> breakdown.tensor_data  # 12 float32 kernel weights; the zero bias is left out
    48
    """
    with open(path, "rb") as f:
        content = f.read()
    model = _litert_compat.flatbuffer_model(content)
    referenced, quantization = set(), 0
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for t in range(subgraph.TensorsLength()):
            tensor = subgraph.Tensors(t)
            referenced.add(tensor.Buffer())
            params = tensor.Quantization()
            if params is not None:
                quantization += 4 * params.ScaleLength() + 8 * params.ZeroPointLength()
    tensor_data = sum(
        model.Buffers(b).DataLength() for b in referenced if 0 < b < model.BuffersLength()
    )
    return SizeBreakdown(len(content), tensor_data, quantization)


def op_names(litert):
    """The set of op names in the file, e.g. `{"CONV_2D", "FULLY_CONNECTED"}`."""
    return {op["op_name"] for op in _litert_compat.ops_details(litert)}


def weight_dtypes(litert):
    """`{op name: set of dtypes of its constant inputs}`, e.g. the kernels.

    A constant input is a tensor that no op writes and that is not a model
    input: the weights and biases stored in the file.
    """
    inputs = {d["index"] for d in litert.get_input_details()}
    written = set()
    ops = _litert_compat.ops_details(litert)
    for op in ops:
        written.update(int(i) for i in op["outputs"])
    tensors = {d["index"]: d for d in litert.get_tensor_details()}
    found = {}
    for op in ops:
        for index in op["inputs"]:
            index = int(index)
            if index < 0 or index in written or index in inputs:
                continue
            dtype = np.dtype(tensors[index]["dtype"]).name
            found.setdefault(op["op_name"], set()).add(dtype)
    return found


KERNEL_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_3D")


def kernel_zero_shares(path_or_bytes):
    """`{tensor name: share of zeros}` of each kernel stored in the file.

    The kernels are the weight inputs (input 1) of the fully connected and
    convolution ops, read from the file's buffers; an int8 kernel's zero is
    the real zero (TFLite weights are symmetric, zero point 0). Pruned
    weights show up here.

    Example:

    >>> import os, tempfile, keras, numpy as np, tflite_export
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> model.layers[0].kernel.assign(np.array([[0, 1]] * 4, "float32"))
    >>> path = os.path.join(tempfile.mkdtemp(), "half.tflite")
    >>> _ = tflite_export.convert(model, path, sidecar=False, verbose=0)
    >>> list(kernel_zero_shares(path).values())
    [0.5]
    """
    litert = interpreter(path_or_bytes)
    tensors = {d["index"]: d for d in litert.get_tensor_details()}
    shares = {}
    for op in _litert_compat.ops_details(litert):
        if op["op_name"] not in KERNEL_OPS or len(op["inputs"]) < 2:
            continue
        index = int(op["inputs"][1])
        values = litert.get_tensor(index)
        shares[tensors[index]["name"]] = float(np.mean(values == 0))
    return shares
