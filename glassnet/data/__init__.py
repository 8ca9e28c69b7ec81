"""Datasets, loaders and the data that ships with glassnet (``gn.data``)."""
from .dataloader import DataLoader, default_collate
from .dataset import Dataset, Subset, TensorDataset, random_split
from .distributed import DistributedSampler
from .datasets import TextCorpus, load_digits, load_mnist, load_text, python_stdlib_text, read_idx

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "random_split", "default_collate",
           "DistributedSampler",
           "load_digits", "load_mnist", "load_text", "read_idx", "TextCorpus", "python_stdlib_text"]
