"""What a weights file holds, without loading its data: ``glassnet inspect`` and ``gn.io.inspect_file``.

Reads only headers: a safetensors file's JSON header, a torch zip file's pickle (through
``load_torch``'s restricted unpickler, storages never read), an ONNX file's graph (the ``onnx``
package needed). Never imports torch.
"""
from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass, field

from .serialization import CheckpointError

# safetensors dtype codes -> NumPy names (BF16 has none: shown as bfloat16)
_SAFETENSORS_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
                       "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
                       "U16": "uint16", "U32": "uint32", "U64": "uint64"}
_BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")
MAX_HEADER_BYTES = 100 * 2**20


@dataclass
class FileSummary:
    """``format``: 'safetensors', 'torch' or 'onnx'; ``tensors``: (name, dtype, shape) rows;
    ``metadata``: other entries (name -> short text); ``parameters``: elements of the floating
    tensors that are not batch-norm statistics (in a training checkpoint, of its model part)."""
    path: str
    format: str
    tensors: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    parameters: int = 0
    nbytes: int = 0

    def render(self) -> str:
        lines = [f"{self.path}: {self.format}, {len(self.tensors)} tensors, {self.parameters:,} parameters, "
                 f"{self.nbytes / 1e6:.1f} MB of tensor data"]
        if self.tensors:
            width = max(len(name) for name, _, _ in self.tensors)
            lines.append(f"{'name':<{width}}  {'dtype':<8}  shape")
            lines += [f"{name:<{width}}  {dtype:<8}  {tuple(shape)}" for name, dtype, shape in self.tensors]
        for key, value in self.metadata.items():
            lines.append(f"{key}: {value}")
        return "\n".join(lines)


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _counts_as_parameter(name: str, dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat")) and not name.endswith(_BUFFER_SUFFIXES)


def inspect_file(path) -> FileSummary:
    """Summarise a safetensors, torch (.pt/.pth) or ONNX file; raises CheckpointError if it is none of them."""
    path = pathlib.Path(path)
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return _inspect_torch(path)
    if path.suffix == ".onnx":
        return _inspect_onnx(path)
    if len(head) >= 9 and head[8:9] == b"{":
        return _inspect_safetensors(path)
    raise CheckpointError(f"{path} is not a safetensors, torch or ONNX file")


def _inspect_safetensors(path) -> FileSummary:
    size = path.stat().st_size
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if n > min(size - 8, MAX_HEADER_BYTES):
            raise CheckpointError(f"{path}: safetensors header claims {n} bytes, the file has {size - 8} after "
                                  f"its length field")
        try:
            header = json.loads(f.read(n))
        except ValueError as error:
            raise CheckpointError(f"{path}: safetensors header is not valid JSON: {error}") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: safetensors header is not a JSON object")
    summary = FileSummary(str(path), "safetensors")
    for key, value in (header.pop("__metadata__", None) or {}).items():
        summary.metadata[key] = value if len(str(value)) <= 200 else str(value)[:200] + "..."
    for name, entry in header.items():
        try:
            dtype, shape = _SAFETENSORS_DTYPES.get(entry["dtype"], entry["dtype"]), list(entry["shape"])
            begin, end = entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: safetensors entry '{name}' lacks dtype, shape or data_offsets") from None
        summary.tensors.append((name, dtype, shape))
        summary.nbytes += int(end) - int(begin)
        if _counts_as_parameter(name, dtype):
            summary.parameters += _numel(shape)
    return summary


def _inspect_torch(path) -> FileSummary:
    from .torch_format import TensorInfo, inspect_torch

    obj = inspect_torch(path)
    summary = FileSummary(str(path), "torch")
    model_part = None
    if isinstance(obj, dict):
        model_part = next((k for k in ("model", "state_dict", "model_state_dict") if isinstance(obj.get(k), dict)),
                          None)

    def walk(value, prefix):
        if isinstance(value, TensorInfo):
            summary.tensors.append((prefix, value.dtype, value.shape))
            counted = model_part is None or prefix.startswith(model_part + ".")
            if counted and _counts_as_parameter(prefix, value.dtype):
                summary.parameters += value.numel
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(value, (list, tuple)) and any(isinstance(v, (TensorInfo, dict, list, tuple)) for v in value):
            for i, v in enumerate(value):
                walk(v, f"{prefix}.{i}" if prefix else str(i))
        else:
            text = repr(value)
            summary.metadata[prefix or "value"] = text if len(text) <= 200 else text[:200] + "..."

    walk(obj, "")
    seen = {}
    for name, _, _ in summary.tensors:
        seen.setdefault(name, None)
    summary.nbytes = sum(_torch_storage_bytes(obj))
    return summary


def _torch_storage_bytes(obj):
    from .torch_format import TensorInfo
    storages = {}

    def walk(value):
        if isinstance(value, TensorInfo):
            storages[value.storage] = value.nbytes
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
    walk(obj)
    return storages.values()


def _inspect_onnx(path) -> FileSummary:
    try:
        import onnx
    except ImportError:
        raise CheckpointError(f"{path}: reading ONNX files needs the onnx package (pip install onnx)") from None
    from onnx import helper

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:   # protobuf's DecodeError and friends
        raise CheckpointError(f"{path} is not a readable ONNX file: {error}") from None
    summary = FileSummary(str(path), "onnx")
    for init in model.graph.initializer:
        dtype = helper.tensor_dtype_to_np_dtype(init.data_type).name
        shape = list(init.dims)
        summary.tensors.append((init.name, dtype, shape))
        summary.nbytes += _numel(shape) * helper.tensor_dtype_to_np_dtype(init.data_type).itemsize
        if _counts_as_parameter(init.name, dtype):
            summary.parameters += _numel(shape)

    def describe(value):
        t = value.type.tensor_type
        dims = [d.dim_param or d.dim_value for d in t.shape.dim]
        return f"{value.name} {helper.tensor_dtype_to_np_dtype(t.elem_type).name} {tuple(dims)}"

    summary.metadata["inputs"] = ", ".join(describe(v) for v in model.graph.input
                                           if v.name not in {i.name for i in model.graph.initializer})
    summary.metadata["outputs"] = ", ".join(describe(v) for v in model.graph.output)
    summary.metadata["opset"] = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
    summary.metadata["producer"] = f"{model.producer_name} {model.producer_version}".strip()
    ops = {}
    for node in model.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    summary.metadata["nodes"] = ", ".join(f"{op} x{n}" for op, n in sorted(ops.items()))
    return summary
