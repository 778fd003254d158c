"""Embedding: a lookup table of vectors, one row per id."""

from __future__ import annotations

import numpy as np

from ..random import as_generator
from ..tensors import DEFAULT_DTYPE, Tensor
from .module import Module, Parameter


class Embedding(Module):
    """y[..., :] = weight[ids[...], :];  weight (num_embeddings, embedding_dim), N(0, 1) at the start.

    The lookup is indexing, whose gradient is sparse: d weight[i] = the sum of the output
    gradients at every position holding id i (repeated ids add up), zero for ids not used.
    With `padding_idx`, that row starts at zeros and never receives a gradient (its value is
    still what the lookup returns), as in torch.nn.Embedding.
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype=DEFAULT_DTYPE, rng=None
    ):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding({num_embeddings}, {embedding_dim}): padding_idx {padding_idx} "
                    f"is outside [-{num_embeddings}, {num_embeddings})"
                )
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        weight = as_generator(rng).standard_normal((num_embeddings, embedding_dim))
        if padding_idx is not None:
            weight[padding_idx] = 0.0
        self.weight = Parameter(weight, dtype=dtype)

    def forward(self, ids) -> Tensor:
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        where = f"Embedding({self.num_embeddings}, {self.embedding_dim})"
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{where}: ids must be integers, got dtype {ids.dtype} (shape {ids.shape})")
        outside = ids[(ids < 0) | (ids >= self.num_embeddings)]
        if outside.size:
            raise IndexError(f"{where}: id {outside.flat[0]} is outside [0, {self.num_embeddings})")
        rows = self.weight[ids]
        if self.padding_idx is None:
            return rows
        # Rows at padding positions keep their values (inf and NaN too) but pass no gradient
        # back to the table: there the lookup is taken from a detached copy.
        padding = (ids == self.padding_idx)[..., None]
        return rows.detach().where(padding, rows)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text if self.padding_idx is None else text + f", padding_idx={self.padding_idx}"
