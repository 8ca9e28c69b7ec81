"""The two rooms stay apart: kernels/ imports nothing from functions/, nn/ or tensor.py, and
no textbook primitive in functions/ names a memory layout, chunk size or scratch buffer
(the names of the kernel modules they import aside)."""
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
    paths = sorted((PACKAGE / "functions").glob("*.py"))
    assert {"convolution.py", "pooling.py", "recurrent.py", "shape.py"} <= {p.name for p in paths}
    for path in paths:
        lines = [line for line in path.read_text().splitlines() if not line.startswith(("from ", "import "))]
        found = sorted({m.group(0) for line in lines for m in words.finditer(line)})
        assert not found, f"functions/{path.name} mentions {found}"
