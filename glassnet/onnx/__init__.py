"""ONNX export (``gn.onnx.export``), shaped like ``torch.onnx.export``; needs the optional ``onnx``
package (``pip install glassnet[onnx]``), imported only when ``export`` runs.

    gn.onnx.export(model, gn.randn(1, 3, 32, 32), "model.onnx",
                   input_names=["image"], output_names=["logits"],
                   dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})

Layout: trace.py records one forward pass (known layers as wholes, every other operation one
by one), layers.py and ops.py turn the records into ONNX nodes, graph.py holds the graph
being built, export.py writes and checks the file.
"""
from .export import DEFAULT_OPSET, export
from .graph import ExportError

__all__ = ["export", "ExportError", "DEFAULT_OPSET"]
