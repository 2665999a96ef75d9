"""Torch-only UniMed-CLIP toolkit: model definitions, checkpoint loading, tokenizer, ONNX export, training.

Run the tools from the repository root, e.g. ``python3 -m training.export --help``.
"""

__version__ = "1.0"
