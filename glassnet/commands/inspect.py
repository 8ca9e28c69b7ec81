"""``glassnet inspect FILE``: the tensors, shapes, dtypes, metadata and parameter count of a
safetensors, torch or ONNX file, read from its headers (no tensor data loaded, no torch)."""
from __future__ import annotations

import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="list the tensors of a safetensors, torch (.pt) or ONNX file",
                              description="List the tensors (name, dtype, shape), metadata and parameter count "
                                          "of a safetensors, torch (.pt/.pth) or ONNX file without loading "
                                          "its data. Parameters: floating tensors other than batch-norm "
                                          "statistics (in a training checkpoint, those of its model).")
    p.add_argument("file", help="the file to inspect")


def run(args) -> int:
    from ..io.inspect import inspect_file
    from ..io.serialization import CheckpointError
    try:
        summary = inspect_file(args.file)
    except (CheckpointError, OSError, ValueError) as error:
        message = str(error) if not isinstance(error, OSError) else f"cannot read {args.file}: {error.strerror}"
        print(f"glassnet inspect: {message}".splitlines()[0], file=sys.stderr)
        return 1
    print(summary.render())
    return 0
