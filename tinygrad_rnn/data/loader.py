"""TensorDataset and DataLoader, as torch.utils.data: samples by index, batches by collation."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..random import as_generator
from ..tensors import Tensor, stack


class TensorDataset:
    """Sample i is (t[i] for t in tensors); every tensor has the same first dimension."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors)
        if any(t.ndim == 0 for t in self.tensors) or len({len(t) for t in self.tensors}) > 1:
            shapes = ", ".join(str(t.shape) for t in self.tensors)
            raise ValueError(f"TensorDataset: every tensor needs the same first dimension, got shapes {shapes}")

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


def default_collate(samples: list):
    """One batch from a list of samples, field by field: Tensors and arrays stacked along a new
    first dimension, numbers made into a 1-D tensor (ints stay int64), tuples, lists and dicts
    collated per entry; strings stay a list."""
    first = samples[0]
    if isinstance(first, Tensor):
        return stack(samples, axis=0)
    if isinstance(first, (np.ndarray, np.generic)) or (
        isinstance(first, numbers.Number) and not isinstance(first, bool)
    ):
        return Tensor(np.stack([np.asarray(s) for s in samples]))
    if isinstance(first, str):
        return list(samples)
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        if len({len(s) for s in samples}) > 1:
            raise ValueError(
                "default_collate: samples have different numbers of fields; "
                "give a collate_fn (for example one that pads with pad_sequence)"
            )
        fields = [default_collate(list(column)) for column in zip(*samples)]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}; give a collate_fn")


class DataLoader:
    """Iterate over `dataset` in batches of `batch_size` samples, collated by `collate_fn`.

    With shuffle=True each pass visits the samples in a new order drawn from `generator`
    (None: the library's generator, seeded by manual_seed; an int seed; a NumPy Generator);
    otherwise in index order. drop_last=True leaves out a last batch smaller than batch_size.
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        collate_fn=None,
        drop_last: bool = False,
        generator=None,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: the dataset needs __getitem__ and __len__, got {type(dataset).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError("DataLoader: collate_fn must be callable")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), shuffle, drop_last
        self.collate_fn = collate_fn or default_collate
        self.generator = None if generator is None else as_generator(generator)

    def __len__(self) -> int:
        count = len(self.dataset)
        return count // self.batch_size if self.drop_last else math.ceil(count / self.batch_size)

    def __iter__(self):
        count = len(self.dataset)
        order = as_generator(self.generator).permutation(count) if self.shuffle else np.arange(count)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            indices = order[start : start + self.batch_size]
            yield self.collate_fn([self.dataset[int(i)] for i in indices])
