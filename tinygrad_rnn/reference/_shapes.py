"""Shape checking shared by the reference functions."""

from __future__ import annotations

import numpy as np


def checked_arrays(function: str, data: dict, params: dict, expected: dict) -> dict:
    """Data and params as float64 arrays, after checking the param names and every shape.

    `expected` maps each name to its shape; a letter is a size that must agree wherever it
    appears, read from the params first. Raises ValueError naming `function`.
    """
    param_names = [name for name in expected if name not in data]
    if set(params) != set(param_names):
        raise ValueError(f"{function}: params must have the keys {param_names}, got {list(params)}")
    arrays = {name: np.asarray(value, dtype=np.float64) for name, value in {**data, **params}.items()}
    sizes: dict[str, int] = {}
    for name in param_names + list(data):
        dims, shape = expected[name], arrays[name].shape
        wanted = tuple(sizes.setdefault(dim, size) if isinstance(dim, str) else dim for dim, size in zip(dims, shape))
        if len(shape) != len(dims) or shape != wanted or 0 in shape:
            described = ", ".join(f"{dim}={sizes[dim]}" if dim in sizes else str(dim) for dim in dims)
            given = ", ".join(f"{key} {value.shape}" for key, value in arrays.items())
            raise ValueError(
                f"{function}: {name} must have shape ({described}), every size at least 1, "
                f"got {shape}; shapes given: {given}"
            )
    return arrays
