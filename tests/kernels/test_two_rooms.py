"""The two rooms stay apart: kernels/ imports nothing from functions/, nn/ or tensor.py, and
the textbook primitives (convolution, pooling, normalization, activation) name no memory
layout, chunk size or scratch buffer."""
import ast
import pathlib
import re

PACKAGE = pathlib.Path(__file__).parents[2] / "glassnet"


def test_kernels_import_nothing_from_functions_nn_or_tensor():
    for path in sorted((PACKAGE / "kernels").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                assert not re.match(r"\.\.(functions|nn|tensor)\b", module), f"{path.name} imports {module}"
                assert not re.match(r"glassnet\.(functions|nn|tensor)\b", module), f"{path.name} imports {module}"


def test_textbook_primitives_name_no_layout_chunk_or_buffer():
    words = re.compile(r"layout|channel.major|contiguous|chunk|scratch|buffer|im2col", re.IGNORECASE)
    for name in ("convolution", "pooling", "normalization", "activation"):
        text = (PACKAGE / "functions" / f"{name}.py").read_text()
        found = sorted({m.group(0) for m in words.finditer(text)})
        assert not found, f"functions/{name}.py mentions {found}"
