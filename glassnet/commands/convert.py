"""``glassnet convert model.pt model.safetensors``: a torch file to glassnet's safetensors checkpoint
(read with ``gn.load_torch``, no torch needed; written with ``gn.save``)."""
from __future__ import annotations

import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("convert", help="convert a torch .pt/.pth file to .safetensors",
                              description="Read a file written by torch.save (a state_dict or a training "
                                          "checkpoint) without torch and without running code from it, and "
                                          "write it as a safetensors checkpoint that gn.load reads.")
    p.add_argument("source", help="the torch file (.pt / .pth)")
    p.add_argument("target", help="the .safetensors file to write")
    p.add_argument("--key", default=None,
                   help="convert only this entry of a checkpoint dict (e.g. 'model' for its state_dict)")


def run(args) -> int:
    import pathlib

    from ..io import CheckpointError, load_torch, save

    def fail(message: str, status: int = 1) -> int:
        print(f"glassnet convert: {message}".splitlines()[0], file=sys.stderr)
        return status

    if pathlib.Path(args.target).suffix != ".safetensors":
        return fail(f"the target must end in .safetensors, got '{args.target}'", 2)
    try:
        obj = load_torch(args.source)
    except CheckpointError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot read {args.source}: {error.strerror}")
    if args.key is not None:
        if not isinstance(obj, dict) or args.key not in obj:
            keys = ", ".join(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
            return fail(f"--key {args.key!r}: the file has no such entry (it holds: {keys})")
        obj = obj[args.key]
    try:
        save(obj, args.target)
    except (TypeError, OSError) as error:
        return fail(f"cannot write {args.target}: {error}")
    count = len(obj) if isinstance(obj, dict) else 1
    print(f"wrote {args.target} ({count} entries)")
    return 0
