"""What every recurrent layer here shares: gate-stacked parameters, input checks, the unrolled loop.

A recurrent layer with G gate blocks (1 for an Elman RNN, 3 for a GRU, 4 for an LSTM) keeps,
for each layer l, PyTorch's four parameters:

    weight_ih_l{l}  (G*H, I_l)   I_0 = input_size, I_l = D * hidden_size above the first layer
    weight_hh_l{l}  (G*H, H)
    bias_ih_l{l}    (G*H,)
    bias_hh_l{l}    (G*H,)

with the G blocks stacked row-wise in the layer's gate order, so x @ weight_ih.T is a
(B, G*H) pre-activation whose k-th block of H columns belongs to gate k. With
bidirectional=True (D = 2) each layer has a second set, `weight_ih_l{l}_reverse` and so on,
run from the last step back to the first. Every parameter starts U(-k, k), k = 1/sqrt(hidden_size).

Unrolling: each layer runs inside scope("layer<l>") (the reverse direction in
scope("layer<l>_reverse")). Its input-to-hidden term does not depend on the state, so it is
computed for all steps at once, before the loop:

    projected = inputs @ weight_ih.T + bias      (T, ..., G*H), one Linear op

and each time step, inside scope("t=<i>"), takes projected[t] and computes
h_{t-1} @ weight_hh.T + projected[t], again one Linear op, then the cell's equations. Every
tensor a step makes is tagged "layer<l>/t=<i>" ("layer<l>_reverse/t=<i>" in the reverse
direction, which runs i = T-1 down to 0), i the step's time index in both directions, so
that step i of either direction reads x_i. With no initial state given, h_0 = 0 (and c_0 = 0
for an LSTM), multiplied by W_hh like any other state, as PyTorch does: every step from t = 0
records the same ops, and weight_hh receives a gradient whatever the length (zeros after a
one-step sequence, or from a cell called with hx=None).

The hidden states of layer l, stacked over time (both directions side by side, forward
first), are the inputs of layer l + 1; in training mode with dropout=p they are first
multiplied by a mask of zeros (probability p) and 1/(1 - p), drawn from the library generator.
Over a PackedSequence, step t runs only the batch_sizes[t] sequences still going (the rows
of the packed data for step t): forward in time, a sequence that ended keeps its last state
as its final one; in reverse, a sequence joins at its own last step with its initial state.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..autograd import STATE, collector_paused, scope
from ..random import as_generator
from ..tensors import DEFAULT_DTYPE, Tensor, concatenate, linear, stack
from .dropout import Dropout
from .module import Module, Parameter
from .utils.rnn import PackedSequence


def as_input(x, dtype, who: str) -> Tensor:
    """`x` as a Tensor of the layer's dtype: arrays and lists of real numbers become constants
    (no copy if possible), a Tensor of another dtype is converted by a recorded Cast (its
    gradient comes back in its own dtype). A float32 layer so computes in float32 whatever it is
    given. Anything else (complex numbers, text) is a TypeError naming `who` and the dtype."""
    if isinstance(x, Tensor):
        return x.to(dtype)
    given = x.dtype if isinstance(x, np.ndarray) else np.asarray(x).dtype
    if given.kind not in "biuf":
        raise TypeError(f"{who}: expected real numbers, got an array of dtype {given}")
    return Tensor._from_op(np.asarray(x, dtype=dtype), None)


def uniform_parameter(rng: np.random.Generator, k: float, shape: tuple, dtype) -> Parameter:
    """A Parameter drawn U(-k, k) elementwise."""
    return Parameter(rng.uniform(-k, k, shape), dtype=dtype)


def zero_state(name: str, batch_shape: tuple, hidden_size: int, dtype) -> Tensor:
    """The constant all-zero state `name` ("h_0", "c_0") of shape batch_shape + (hidden_size,),
    used when no initial state is given."""
    return Tensor(np.zeros(batch_shape + (hidden_size,), dtype=dtype), name=name)


def gate_block(pre_activation: Tensor, index: int, hidden_size: int) -> Tensor:
    """The index-th block of hidden_size columns of a (..., G*H) pre-activation."""
    return pre_activation[..., index * hidden_size : (index + 1) * hidden_size]


class RecurrentCell(Module):
    """Base of the one-step cells: weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,).

    A subclass sets `gate_count` (G) and writes forward() with `_checked_input` and `_checked_state`.
    """

    gate_count = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=DEFAULT_DTYPE, rng=None):
        super().__init__()
        for option, size in (("input_size", input_size), ("hidden_size", hidden_size)):
            if size < 0:
                raise ValueError(f"{type(self).__name__}: {option} must not be negative, got {size}")
        self.input_size, self.hidden_size = input_size, hidden_size
        rng = as_generator(rng)
        k = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0  # torch's bound for a zero-unit cell
        rows = self.gate_count * hidden_size
        self.weight_ih = uniform_parameter(rng, k, (rows, input_size), dtype)
        self.weight_hh = uniform_parameter(rng, k, (rows, hidden_size), dtype)
        self.bias_ih = uniform_parameter(rng, k, (rows,), dtype) if bias else None
        self.bias_hh = uniform_parameter(rng, k, (rows,), dtype) if bias else None

    def _checked_input(self, input) -> Tensor:
        x = as_input(input, self.weight_ih.dtype, f"{type(self).__name__}: input")
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: input has shape {x.shape}; "
                f"expected (batch, {self.input_size}) or ({self.input_size},)"
            )
        return x

    def _summed_bias(self) -> Tensor | None:
        """b_ih + b_hh, or None without biases."""
        return None if self.bias_ih is None else self.bias_ih + self.bias_hh

    def _checked_state(self, state, name: str, batch_shape: tuple) -> Tensor:
        """`state` as a Tensor of shape batch_shape + (hidden_size,); zeros for None."""
        if state is None:
            return zero_state(f"{name}_0", batch_shape, self.hidden_size, self.weight_ih.dtype)
        state = as_input(state, self.weight_ih.dtype, f"{type(self).__name__}: state")
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
      layer_weights(layer, suffix)      -> (input_bias, step_weights): the bias added to the input
                                           projection of layer `layer` in the direction named by
                                           `suffix` ("" or "_reverse"), or None, and what its every
                                           step uses; by default b_ih + b_hh and (W_hh,)
      step(projected_x, state, weights)
                                        -> the next state, a tuple ordered as `state_names`, h first,
                                           from the projected input p_t = x_t @ W_ih^T + bias and
                                           the previous state.
    Its forward() then calls `_unroll(input, initial_states)`.

    With `retain_hidden = True`, every state tensor keeps its gradient after backward and
    `hidden_states[k][t]` is h_t of layer k // D in direction k % D (D = 2 when bidirectional).
    """

    gate_count = 1
    state_names: tuple[str, ...] = ("h",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype=DEFAULT_DTYPE,
        rng=None,
    ):
        super().__init__()
        name = type(self).__name__
        for option, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name}: {option} must be an int, got {type(value).__name__} {value!r}")
            if value < 1:
                raise ValueError(f"{name}: {option} must be at least 1, got {value}")
        input_size, hidden_size, num_layers = int(input_size), int(hidden_size), int(num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout acts between layers, so with num_layers=1 it does nothing (got dropout={dropout})",
                UserWarning,
                stacklevel=3,
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        self.retain_hidden = False
        self.step_states: list[list[tuple[Tensor, ...]]] = []
        rng = as_generator(rng)
        k = 1.0 / math.sqrt(hidden_size)
        rows = self.gate_count * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * len(self.directions)
            for suffix in self.directions:
                names = f"l{layer}{suffix}"
                setattr(self, f"weight_ih_{names}", uniform_parameter(rng, k, (rows, layer_input), dtype))
                setattr(self, f"weight_hh_{names}", uniform_parameter(rng, k, (rows, hidden_size), dtype))
                if bias:
                    setattr(self, f"bias_ih_{names}", uniform_parameter(rng, k, (rows,), dtype))
                    setattr(self, f"bias_hh_{names}", uniform_parameter(rng, k, (rows,), dtype))

    @property
    def directions(self) -> tuple[str, ...]:
        """The parameter-name suffix of each direction: ("",), or ("", "_reverse") when bidirectional."""
        return ("", "_reverse") if self.bidirectional else ("",)

    @property
    def hidden_states(self) -> list[list[Tensor]]:
        """hidden_states[k][t]: h_t of layer k // D, direction k % D, from the last forward
        (empty unless retain_hidden)."""
        return [[state[0] for state in run] for run in self.step_states]

    def layer_weights(self, layer: int, suffix: str = "") -> tuple:
        """The input projection's bias b_ih + b_hh (made once per layer), and W_hh for every step."""
        names = f"l{layer}{suffix}"
        bias = getattr(self, f"bias_ih_{names}") + getattr(self, f"bias_hh_{names}") if self.bias else None
        return bias, (getattr(self, f"weight_hh_{names}"),)

    def step(self, projected_x: Tensor, state: tuple, weights: tuple) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} does not define step()")

    def _time_major(self, input) -> tuple[Tensor, bool]:
        """The input as one (T, B, I) or (T, I) tensor, and whether it is batched."""
        name, size = type(self).__name__, self.input_size
        dtype = self.weight_ih_l0.dtype
        if isinstance(input, (list, tuple)):
            if not input:
                raise ValueError(f"{name}: the input sequence is empty")
            steps = [as_input(x, dtype, f"{name}: input at t={t}") for t, x in enumerate(input)]
            first = steps[0].shape
            for t, x in enumerate(steps):
                if x.ndim not in (1, 2) or x.shape[-1] != size or x.shape != first:
                    raise ValueError(
                        f"{name}: input at t={t} has shape {x.shape}; expected (batch, {size}) "
                        f"or ({size},), the same at every step (t=0 had {first})"
                    )
            if STATE.anomaly:
                self._check_input_finite(np.stack([x.data for x in steps]), 0)
            return stack(steps, axis=0), len(first) == 2
        sequence = as_input(input, dtype, f"{name}: input")
        if sequence.ndim not in (2, 3) or sequence.shape[-1] != size:
            raise ValueError(
                f"{name}: input has shape {sequence.shape}; expected (T, B, {size}), "
                f"(B, T, {size}) with batch_first, (T, {size}), a list of steps or a PackedSequence"
            )
        batched = sequence.ndim == 3
        if STATE.anomaly:
            self._check_input_finite(sequence.data, 1 if batched and self.batch_first else 0)
        if batched and self.batch_first:
            sequence = sequence.transpose(1, 0, 2)
        if sequence.shape[0] == 0:
            raise ValueError(f"{name}: the input sequence is empty")
        return sequence, batched

    def _check_input_finite(self, values: np.ndarray, time_axis: int) -> None:
        """Under detect_anomaly(): a FloatingPointError naming the first time step (and the
        element of x_t) where the input holds a NaN or an inf, before any op runs on it (the
        input projection of all steps at once could only name the layer)."""
        by_time = np.moveaxis(values, time_axis, 0)
        bad = ~np.isfinite(by_time)
        if bad.any():
            t, *element = (int(k) for k in np.argwhere(bad)[0])
            kind = "NaN" if np.isnan(by_time[(t, *element)]) else "inf"
            raise FloatingPointError(
                f"{type(self).__name__}: the input already holds {kind} at t={t}, element {tuple(element)} "
                f"of x_t (shape {by_time.shape[1:]}), before layer0 ran"
            )

    def _packed_data(self, packed: PackedSequence) -> Tensor:
        data = as_input(packed.data, self.weight_ih_l0.dtype, f"{type(self).__name__}: packed data")
        if data.ndim != 2 or data.shape[1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: the packed data has shape {data.shape}; "
                f"expected (sum of lengths, {self.input_size})"
            )
        return data

    def _initial_states(self, given, batch_shape: tuple) -> list[tuple[Tensor, ...]]:
        """For each layer and direction (layer * D + direction), its initial state tuple: slices
        of the given (num_layers * D, ..., H) tensors, one per name in `state_names`, or zeros
        when `given` is None."""
        runs = self.num_layers * len(self.directions)
        dtype = self.weight_ih_l0.dtype
        if given is None:
            return [
                tuple(zero_state(f"{name}_0", batch_shape, self.hidden_size, dtype) for name in self.state_names)
                for _ in range(runs)
            ]
        expected = (runs,) + batch_shape + (self.hidden_size,)
        checked = []
        for name, value in zip(self.state_names, given):
            value = as_input(value, dtype, f"{type(self).__name__}: {name}0")
            if value.shape != expected:
                raise ValueError(f"{type(self).__name__}: {name}0 has shape {value.shape}, expected {expected}")
            checked.append(value)
        return [tuple(value[run] for value in checked) for run in range(runs)]

    @collector_paused()
    def _unroll(self, input, initial_states) -> tuple:
        """Run every layer in every direction over every step; returns the last layer's h_t over
        time (both directions side by side: forward first) and, for each name in `state_names`,
        the final states stacked over layers and directions. A PackedSequence in gives one out."""
        packed = input if isinstance(input, PackedSequence) else None
        if packed is None:
            sequence, batched = self._time_major(input)
            batch = StepRows(len(sequence), None)
            states = self._initial_states(initial_states, sequence.shape[1:-1])
        else:
            sequence, batched = self._packed_data(packed), True
            batch = StepRows(len(packed.batch_sizes), np.asarray(packed.batch_sizes))
            states = self._initial_states(initial_states, (int(batch.sizes[0]),))
            if packed.sorted_indices is not None:  # the packed rows come longest sequence first
                states = [tuple(v[packed.sorted_indices] for v in s) for s in states]
        output_axis = 1 if (self.batch_first and batched and packed is None) else 0
        self.step_states = []
        finals = []
        for layer in range(self.num_layers):
            last = layer == self.num_layers - 1
            outputs = []
            for direction, suffix in enumerate(self.directions):
                with scope(f"layer{layer}{suffix}"):
                    input_bias, weights = self.layer_weights(layer, suffix)
                    projected = linear(sequence, getattr(self, f"weight_ih_l{layer}{suffix}"), input_bias)
                    run_states, final = self._run(
                        projected, batch, states[len(finals)], weights, reverse=direction == 1
                    )
                    outputs.append(batch.join([state[0] for state in run_states], output_axis if last else 0))
                finals.append(final)
                if self.retain_hidden:
                    self.step_states.append(run_states)
            sequence = outputs[0] if len(outputs) == 1 else concatenate(outputs, axis=-1)
            if self.dropout and self.training and not last:
                sequence = Dropout(self.dropout)(sequence)  # a mask from the library generator
        stacked = tuple(stack([final[k] for final in finals], axis=0) for k in range(len(self.state_names)))
        if packed is None:
            return sequence, stacked
        if packed.unsorted_indices is not None:  # back to the batch's own order
            stacked = tuple(state[:, packed.unsorted_indices] for state in stacked)
        return PackedSequence(sequence, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices), stacked

    def _run(self, projected: Tensor, batch: "StepRows", initial, weights, reverse: bool) -> tuple[list, tuple]:
        """One layer in one direction: the state after every step (in time order) and the final
        state of every sequence (the one after its own last step, or after t=0 in reverse)."""
        run_states = [None] * batch.steps
        state = initial if batch.sizes is None else None  # packed: resize() takes each step's rows
        finished = []
        times = range(batch.steps - 1, -1, -1) if reverse else range(batch.steps)
        for t in times:
            with scope(f"t={t}"):
                if batch.sizes is not None:
                    state = batch.resize(state, t, initial, finished)
                state = self.step(batch.rows(projected, t), state, weights)
            if self.retain_hidden:
                for tensor in state:
                    if tensor.requires_grad:
                        tensor.retain_grad()
            run_states[t] = state
        if finished:  # the sequences that ended early, shortest last
            state = tuple(
                concatenate([value, *(piece[k] for piece in reversed(finished))], axis=0)
                for k, value in enumerate(state)
            )
        return run_states, state

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class StepRows:
    """Which rows each time step runs: all of them (`sizes` None), or, for a packed batch
    sorted longest first, the first sizes[t] sequences at step t, whose inputs are rows
    starts[t] .. starts[t] + sizes[t] of the packed data."""

    def __init__(self, steps: int, sizes: np.ndarray | None):
        self.steps, self.sizes = steps, sizes
        self.starts = None if sizes is None else np.concatenate([[0], np.cumsum(sizes)[:-1]])

    def rows(self, sequence: Tensor, t: int) -> Tensor:
        """Step t's rows of a (T, ...) or packed (rows, ...) sequence."""
        if self.sizes is None:
            return sequence[t]
        start = int(self.starts[t])
        return sequence[start : start + int(self.sizes[t])]

    def join(self, per_step: list, axis: int) -> Tensor:
        """The steps' hidden states as one sequence: stacked along `axis`, or, packed, concatenated."""
        return stack(per_step, axis=axis) if self.sizes is None else concatenate(per_step, axis=0)

    def resize(self, state, t: int, initial: tuple, finished: list) -> tuple:
        """The state cut or extended to step t's sequences (`state` None before the first step).
        Forward in time, the sequences that ended leave (their states go to `finished`); in
        reverse, those that start at step t join with their initial state."""
        size = int(self.sizes[t])
        if state is None:
            return tuple(value[:size] for value in initial)
        current = len(state[0])
        if current > size:
            finished.append(tuple(value[size:] for value in state))
            return tuple(value[:size] for value in state)
        if current < size:
            joining = tuple(value[current:size] for value in initial)
            return tuple(concatenate([value, extra], axis=0) for value, extra in zip(state, joining))
        return state
