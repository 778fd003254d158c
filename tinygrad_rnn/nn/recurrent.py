"""What every recurrent layer here shares: gate-stacked parameters, input checks, the unrolled loop.

A recurrent layer with G gate blocks (1 for an Elman RNN, 3 for a GRU, 4 for an LSTM) keeps,
for each layer l, PyTorch's four parameters:

    weight_ih_l{l}  (G*H, I_l)   I_0 = input_size, I_l = hidden_size above the first layer
    weight_hh_l{l}  (G*H, H)
    bias_ih_l{l}    (G*H,)
    bias_hh_l{l}    (G*H,)

with the G blocks stacked row-wise in the layer's gate order, so x @ weight_ih.T is a
(B, G*H) pre-activation whose k-th block of H columns belongs to gate k. Every parameter
starts U(-k, k), k = 1/sqrt(hidden_size).

Unrolling: each layer runs inside scope("layer<l>"). Its input-to-hidden term does not depend
on the state, so it is computed for all steps at once, before the loop:

    projected = inputs @ weight_ih.T + bias      (T, ..., G*H), one Linear op

and each time step, inside scope("t=<i>"), takes projected[t] and computes
h_{t-1} @ weight_hh.T + projected[t], again one Linear op. The step writes its h_t into row t
of one (T, ..., H) array made for the layer, and that array is the layer's output: the
hidden states are stored once, not once per step and again stacked.
Every tensor a step makes is tagged "layer<l>/t=<i>". With no initial state given, h_0 = 0 and
the first step skips its (zero) hidden-to-hidden product. So with a single step and no initial
state, weight_hh is never used and keeps grad None (a cell called with hx=None likewise), where
PyTorch's layers report zeros: its optimizers skip a None gradient but still apply weight decay
and momentum to zeros. The hidden states of layer l, stacked, are the inputs of layer l + 1.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..autograd import collector_paused, scope
from ..random import as_generator
from ..tensor import DEFAULT_DTYPE, Tensor, apply, linear, stack
from .module import Module, Parameter


def as_input(x, dtype) -> Tensor:
    """`x` as a Tensor; arrays and lists become constants of the layer's dtype (no copy if possible)."""
    if isinstance(x, Tensor):
        return x
    return Tensor._from_op(np.asarray(x, dtype=dtype), None)


def uniform_parameter(rng: np.random.Generator, k: float, shape: tuple, dtype) -> Parameter:
    """A Parameter drawn U(-k, k) elementwise."""
    return Parameter(rng.uniform(-k, k, shape), dtype=dtype)


def stack_rows(hiddens: list, output: np.ndarray, rows: list, axis: int) -> Tensor:
    """The hidden states stacked along `axis`. When every step wrote its h_t into rows[t] (the
    views of `output` along its first axis that the steps were given), that is `output`
    itself, recorded without a copy and made read-only: the steps saved its rows for backward."""
    if all(h.data is row for h, row in zip(hiddens, rows)):
        output.flags.writeable = False
        filled = output if axis == 0 else np.moveaxis(output, 0, axis)
        return apply(ops.Stack, *hiddens, axis=axis, filled=filled)
    return stack(hiddens, axis=axis)


def gate_block(pre_activation: Tensor, index: int, hidden_size: int) -> Tensor:
    """The index-th block of hidden_size columns of a (..., G*H) pre-activation."""
    return pre_activation[..., index * hidden_size:(index + 1) * hidden_size]


class RecurrentCell(Module):
    """Base of the one-step cells: weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,).

    A subclass sets `gate_count` (G) and writes forward() with `_checked_input` and `_checked_state`.
    """

    gate_count = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype=DEFAULT_DTYPE, rng=None):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        rng = as_generator(rng)
        k = 1.0 / math.sqrt(hidden_size)
        rows = self.gate_count * hidden_size
        self.weight_ih = uniform_parameter(rng, k, (rows, input_size), dtype)
        self.weight_hh = uniform_parameter(rng, k, (rows, hidden_size), dtype)
        self.bias_ih = uniform_parameter(rng, k, (rows,), dtype) if bias else None
        self.bias_hh = uniform_parameter(rng, k, (rows,), dtype) if bias else None

    def _checked_input(self, input) -> Tensor:
        x = as_input(input, self.weight_ih.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: input has shape {x.shape}; "
                f"expected (batch, {self.input_size}) or ({self.input_size},)"
            )
        return x

    def _summed_bias(self) -> Tensor | None:
        """b_ih + b_hh, or None without biases."""
        return None if self.bias_ih is None else self.bias_ih + self.bias_hh

    def _checked_state(self, state, name: str, batch_shape: tuple) -> Tensor | None:
        """`state` as a Tensor of shape batch_shape + (hidden_size,); None (zeros) stays None."""
        if state is None:
            return None
        state = as_input(state, self.weight_ih.dtype)
        expected = batch_shape + (self.hidden_size,)
        if state.shape != expected:
            raise ValueError(f"{type(self).__name__}: {name} has shape {state.shape}, expected {expected}")
        return state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias_ih is not None else ", bias=False")


class RecurrentLayers(Module):
    """Base of the multi-layer recurrent networks: parameters, input checks and the unrolled loop.

    A subclass sets `gate_count` (G) and `state_names` (("h",), or ("h", "c") for an LSTM),
    defines step() and may redefine layer_weights():
      layer_weights(layer)              -> (input_bias, step_weights): the bias added to the layer's
                                           input projection (or None), and what its every step uses;
                                           by default b_ih + b_hh and (W_hh,)
      step(projected_x, state, weights, out)
                                        -> the next state, a tuple ordered as `state_names`, h first;
                                           `state` is None at the first step when no initial
                                           state was given (all zeros); `out` is the layer's
                                           output row for this step, the array to write h into.
    Its forward() then calls `_unroll(input, initial_states)`.

    With `retain_hidden = True`, every state tensor keeps its gradient after backward and
    `hidden_states[l][t]` is layer l's h_t.
    """

    gate_count = 1
    state_names: tuple[str, ...] = ("h",)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dtype=DEFAULT_DTYPE, rng=None):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"{type(self).__name__}: num_layers must be at least 1, got {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.retain_hidden = False
        self.step_states: list[list[tuple[Tensor, ...]]] = []
        rng = as_generator(rng)
        k = 1.0 / math.sqrt(hidden_size)
        rows = self.gate_count * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size
            setattr(self, f"weight_ih_l{layer}", uniform_parameter(rng, k, (rows, layer_input), dtype))
            setattr(self, f"weight_hh_l{layer}", uniform_parameter(rng, k, (rows, hidden_size), dtype))
            if bias:
                setattr(self, f"bias_ih_l{layer}", uniform_parameter(rng, k, (rows,), dtype))
                setattr(self, f"bias_hh_l{layer}", uniform_parameter(rng, k, (rows,), dtype))

    @property
    def hidden_states(self) -> list[list[Tensor]]:
        """hidden_states[l][t]: layer l's h_t from the last forward (empty unless retain_hidden)."""
        return [[state[0] for state in layer] for layer in self.step_states]

    def layer_weights(self, layer: int) -> tuple:
        """The input projection's bias b_ih + b_hh (made once per layer), and W_hh for every step."""
        bias = getattr(self, f"bias_ih_l{layer}") + getattr(self, f"bias_hh_l{layer}") if self.bias else None
        return bias, (getattr(self, f"weight_hh_l{layer}"),)

    def step(self, projected_x: Tensor, state: tuple | None, weights: tuple, out: np.ndarray) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} does not define step()")

    def _time_major(self, input) -> tuple[Tensor, bool]:
        """The input as one (T, B, I) or (T, I) tensor, and whether it is batched."""
        name, size = type(self).__name__, self.input_size
        dtype = self.weight_ih_l0.dtype
        if isinstance(input, (list, tuple)):
            if not input:
                raise ValueError(f"{name}: the input sequence is empty")
            steps = [as_input(x, dtype) for x in input]
            first = steps[0].shape
            for t, x in enumerate(steps):
                if x.ndim not in (1, 2) or x.shape[-1] != size or x.shape != first:
                    raise ValueError(
                        f"{name}: input at t={t} has shape {x.shape}; expected (batch, {size}) "
                        f"or ({size},), the same at every step (t=0 had {first})"
                    )
            return stack(steps, axis=0), len(first) == 2
        sequence = as_input(input, dtype)
        if sequence.ndim not in (2, 3) or sequence.shape[-1] != size:
            raise ValueError(
                f"{name}: input has shape {sequence.shape}; expected (T, B, {size}), "
                f"(B, T, {size}) with batch_first, (T, {size}) or a list of steps"
            )
        batched = sequence.ndim == 3
        if batched and self.batch_first:
            sequence = sequence.transpose(1, 0, 2)
        if sequence.shape[0] == 0:
            raise ValueError(f"{name}: the input sequence is empty")
        return sequence, batched

    def _initial_states(self, given, batch_shape: tuple) -> list[tuple[Tensor, ...] | None]:
        """For each layer, its initial state tuple: slices of the given (num_layers, ..., H)
        tensors, one per name in `state_names`, or None (all zeros) when `given` is None."""
        dtype = self.weight_ih_l0.dtype
        if given is None:
            return [tuple(Tensor(np.zeros(batch_shape + (self.hidden_size,), dtype=dtype)) for _ in self.state_names) for _ in range(self.num_layers)]
        expected = (self.num_layers,) + batch_shape + (self.hidden_size,)
        checked = []
        for name, value in zip(self.state_names, given):
            value = as_input(value, dtype)
            if value.shape != expected:
                raise ValueError(f"{type(self).__name__}: {name}0 has shape {value.shape}, expected {expected}")
            checked.append(value)
        return [tuple(value[layer] for value in checked) for layer in range(self.num_layers)]

    @collector_paused()
    def _unroll(self, input, initial_states) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Run every layer over every step; returns the last layer's h_t stacked over time
        and, for each name in `state_names`, the final states stacked over layers."""
        sequence, batched = self._time_major(input)
        output_axis = 1 if (self.batch_first and batched) else 0
        states = self._initial_states(initial_states, sequence.shape[1:-1])
        self.step_states = []
        final_states = []
        for layer in range(self.num_layers):
            with scope(f"layer{layer}"):
                input_bias, weights = self.layer_weights(layer)
                projected = linear(sequence, getattr(self, f"weight_ih_l{layer}"), input_bias)
                output = np.empty(projected.shape[:-1] + (self.hidden_size,), dtype=projected.dtype)
                rows = list(output)
                state = states[layer]
                layer_states = []
                for t, row in enumerate(rows):
                    with scope(f"t={t}"):
                        state = self.step(projected[t], state, weights, row)
                    if self.retain_hidden:
                        for tensor in state:
                            if tensor.requires_grad:
                                tensor.retain_grad()
                    layer_states.append(state)
                last = layer == self.num_layers - 1
                hiddens = [step_state[0] for step_state in layer_states]
                sequence = stack_rows(hiddens, output, rows, axis=output_axis if last else 0)
            if self.retain_hidden:
                self.step_states.append(layer_states)
            final_states.append(state)
        finals = tuple(stack([layer_final[k] for layer_final in final_states], axis=0)
                       for k in range(len(self.state_names)))
        return sequence, finals

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        return text
