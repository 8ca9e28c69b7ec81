"""Differentiable primitives: arrays in, arrays out, each forward beside its backward.

One module per family; :mod:`glassnet.nn.functional` wraps them for Tensors, checks
arguments and gives them torch's names.
"""
