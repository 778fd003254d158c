"""jit against eager on steps that read arrays from outside them (closure cells, globals, a
small dict's entries, a bound method's `self`), on the checks a program makes of its modules,
and on the inf/NaN check of a fused weight-gradient sum.

Every case runs one step under jit and the same step eagerly on a twin model with the same
weights, and asserts equal losses and `.grad` values: the same NaN and inf positions, the
finite values to rtol 1e-12 (float32's fused sums to float32's rounding). Where a program
cannot repeat the step, the right answer is one JitFallbackWarning, then eager's values; where
it can, no warning at all.
"""

import contextlib
import os
import warnings

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.jit import JitError, JitFallbackWarning, jit
from tinygrad_rnn.nn import Parameter
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.optim import SGD

RTOL = 1e-12
X = np.arange(12.0).reshape(4, 3) / 10  # a batch of four rows for a Linear(3, 2)


def assert_same(actual, expected, rtol=RTOL):
    """Equal shapes, NaN and signed-inf positions, finite values to rtol (atol 0)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(actual), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(actual), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=rtol, atol=0)


def assert_twins(compiled_model, eager_model, compiled_loss, eager_loss, rtol=RTOL):
    assert_same(compiled_loss.data, eager_loss.data, rtol)
    compiled_params, eager_params = list(compiled_model.parameters()), list(eager_model.parameters())
    assert len(compiled_params) == len(eager_params)
    for p, q in zip(compiled_params, eager_params):
        assert (p.grad is None) == (q.grad is None)
        if q.grad is not None:
            assert_same(p.grad, q.grad, rtol)


def linear_twins(seed=0):
    return nn.Linear(3, 2, rng=seed), nn.Linear(3, 2, rng=seed)


@contextlib.contextmanager
def no_fallback():
    """Inside, a JitFallbackWarning is an error: the program must serve these calls."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)
        yield


def weighted_step(lin, weights_of):
    """loss = sum(lin(x) * w), w read through `weights_of()` (a closure, a global, a dict)."""

    def step(x):
        loss = (lin(Tensor(x)) * Tensor(weights_of())).sum()
        loss.backward()
        return loss

    return step


def squared_step(model):
    """loss = sum(model(x) ** 2)."""

    def step(x):
        loss = (model(Tensor(x)) ** 2).sum()
        loss.backward()
        return loss

    return step


# ---------------------------------------------------------------- values read on every call


def test_an_array_in_a_closure_updated_in_place_is_read_again_nan_and_inf_included():
    compiled_lin, eager_lin = linear_twins()
    weights = np.array([1.0, -2.0])

    def make(lin):
        def step(x):
            loss = (lin(Tensor(x)) * Tensor(weights)).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with no_fallback(), np.errstate(all="ignore"):
        for value in (3.0, np.nan, -np.inf, 0.5):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
            weights[0] = value
    assert compiled.traces == 1


def test_a_dict_entry_rebound_between_calls_is_read_again():
    compiled_lin, eager_lin = linear_twins()
    config = {"weights": np.array([1.0, 2.0])}

    def make(lin):
        def step(x):
            loss = (lin(Tensor(x)) * Tensor(config["weights"])).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with no_fallback():
        for _ in range(3):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
            config["weights"] = config["weights"] * -2.0
    assert compiled.traces == 1


CLASS_WEIGHTS = np.array([1.0, 2.0])  # rebound by the tests below


def test_a_global_rebound_to_another_shape_or_dtype_traces_again():
    global CLASS_WEIGHTS
    CLASS_WEIGHTS = np.array([1.0, 2.0])
    compiled_lin, eager_lin = linear_twins()

    def make(lin):
        def step(x):
            loss = (lin(Tensor(x)) * Tensor(CLASS_WEIGHTS).reshape(-1, 2)).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with no_fallback():
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
        CLASS_WEIGHTS = np.arange(8.0).reshape(4, 2)
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
        CLASS_WEIGHTS = np.array([1.0, 2.0], dtype=np.float32)
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
    assert compiled.traces == 3


def test_an_attribute_of_a_bound_methods_self_rebound_between_calls_is_read_again():
    class Trainer:
        def __init__(self):
            self.lin = nn.Linear(3, 2, rng=0)
            self.class_weights = np.array([1.0, 3.0])

        def step(self, x):
            loss = (self.lin(Tensor(x)) * Tensor(self.class_weights)).sum()
            loss.backward()
            return loss

    compiled_trainer, eager_trainer = Trainer(), Trainer()
    compiled = jit(compiled_trainer.step)
    with no_fallback():
        for _ in range(3):
            assert_twins(compiled_trainer.lin, eager_trainer.lin, compiled(X), eager_trainer.step(X))
            assert type(compiled_trainer.class_weights) is np.ndarray
            compiled_trainer.class_weights = compiled_trainer.class_weights * 2
            eager_trainer.class_weights = eager_trainer.class_weights * 2


def test_an_array_in_a_helpers_closure_is_read_again():
    compiled_lin, eager_lin = linear_twins()

    def make_helper():
        shift = np.array([0.5, -0.5])

        def shifted(out):
            return out + Tensor(shift)

        return shifted, shift

    helper, shift = make_helper()

    def make(lin):
        def step(x):
            loss = (helper(lin(Tensor(x))) ** 2).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with no_fallback():
        for _ in range(3):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
            shift *= -3.0


def test_zero_d_and_size_zero_arrays_from_outside_nan_and_signed_zero_included():
    compiled_lin, eager_lin = linear_twins()
    temperature, empty = np.array(2.0), np.zeros((0,))

    def make(lin):
        def step(x):
            loss = (lin(Tensor(x)) / Tensor(temperature)).sum() + Tensor(empty).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with no_fallback(), np.errstate(all="ignore"):
        for value in (0.0, -0.0, np.nan, 3.0):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
            temperature[()] = value


def test_a_read_only_outside_array():
    compiled_lin, eager_lin = linear_twins()
    frozen = np.array([1.0, 2.0])
    frozen.flags.writeable = False
    compiled, eager = jit(weighted_step(compiled_lin, lambda: frozen)), weighted_step(eager_lin, lambda: frozen)
    with no_fallback():
        for _ in range(2):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


def test_a_float32_model_with_a_float32_outside_array_stays_float32():
    compiled_lin, eager_lin = linear_twins()
    for lin in (compiled_lin, eager_lin):
        for p in lin.parameters():
            p.data = p.data.astype(np.float32)
    weights = np.array([1.5, -2.0], dtype=np.float32)
    compiled, eager = jit(weighted_step(compiled_lin, lambda: weights)), weighted_step(eager_lin, lambda: weights)
    x = X.astype(np.float32)
    with no_fallback():
        for _ in range(3):
            assert_twins(compiled_lin, eager_lin, compiled(x), eager(x))
            weights[1] *= 3
    assert compiled_lin.weight.grad.dtype == np.float32


def test_integer_labels_from_outside_changed_in_place():
    compiled_lin, eager_lin = linear_twins()
    labels = np.array([0, 1, 1, 0])

    def make(lin):
        def step(x):
            loss = F.cross_entropy(lin(Tensor(x)), labels)
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with no_fallback():
        for _ in range(3):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
            labels[:] = 1 - labels


def test_embedding_ids_from_outside_changed_in_place():
    compiled_emb, eager_emb = nn.Embedding(5, 2, rng=0), nn.Embedding(5, 2, rng=0)
    ids = np.array([[0, 3], [3, 4]])

    def make(emb):
        def step():
            loss = (emb(ids) ** 2).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_emb)), make(eager_emb)
    with no_fallback():
        for new in ([[1, 1], [1, 1]], [[4, 0], [2, 2]], [[0, 0], [0, 0]]):
            assert_twins(compiled_emb, eager_emb, compiled(), eager())
            ids[...] = new


def test_a_boolean_mask_from_outside_picking_rows_whose_count_changes():
    compiled_lin, eager_lin = linear_twins()
    mask = np.array([True, False, True, True])

    def make(lin):
        def step(x):
            loss = lin(Tensor(x))[mask].sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with no_fallback():
        for new in ([False, True, True, False], [True] * 4, [False] * 4, [True, False, True, True]):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
            mask[:] = new


def test_np_where_on_a_boolean_mask_from_outside():
    compiled_lin, eager_lin = linear_twins()
    mask = np.array([[True, False]] * 4)

    def make(lin):
        def step(x):
            target = np.where(mask, x[:, :2], -1.0)
            loss = ((lin(Tensor(x)) - Tensor(target)) ** 2).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with no_fallback():
        for _ in range(3):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
            mask[:] = ~mask


def test_iterating_over_the_rows_of_an_outside_array():
    compiled_lin, eager_lin = linear_twins()
    rows = np.array([[1.0, 2.0], [3.0, -1.0]])

    def make(lin):
        def step(x):
            out = lin(Tensor(x))
            loss = Tensor(0.0)
            for row in rows:
                loss = loss + (out * Tensor(row)).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with no_fallback():
        for _ in range(3):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
            rows *= -2


def test_a_copy_of_an_outside_array_changed_inside_leaves_the_original_alone():
    compiled_lin, eager_lin = linear_twins()
    base = np.array([1.0, 2.0])

    def make(lin):
        def step(x):
            weights = base.copy()
            weights[0] = 0.0
            loss = (lin(Tensor(x)) * Tensor(weights)).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with no_fallback():
        for _ in range(3):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
            assert base[0] == 1.0
            base[1] += 1


def test_isinstance_of_an_outside_array_takes_eagers_branch():
    compiled_lin, eager_lin = linear_twins()
    weights = np.array([1.0, 2.0])

    def make(lin):
        def step(x):
            w = Tensor(weights) if isinstance(weights, np.ndarray) else Tensor(np.zeros(2))
            loss = (lin(Tensor(x)) * w).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with no_fallback():
        for _ in range(2):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


def test_an_outside_array_that_is_a_parameters_data_follows_an_optimizer_outside():
    compiled_lin, eager_lin = linear_twins()
    compiled_alias, eager_alias = compiled_lin.weight.data, eager_lin.weight.data

    def make(lin, alias):
        def step(x):
            loss = lin(Tensor(x)).sum() + (Tensor(alias) ** 2).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin, compiled_alias)), make(eager_lin, eager_alias)
    optimizers = SGD(compiled_lin.parameters(), lr=0.1), SGD(eager_lin.parameters(), lr=0.1)
    with no_fallback():
        for _ in range(3):
            assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
            for optimizer in optimizers:
                optimizer.step()
                optimizer.zero_grad()


def test_writing_into_an_outside_alias_of_a_weight_falls_back_and_matches_eager():
    compiled_lin, eager_lin = linear_twins()

    def make(lin, alias):
        def step(x):
            alias[...] *= 0.5  # a decay of the weight through an array the step holds
            loss = lin(Tensor(x)).sum()
            loss.backward()
            return loss

        return step

    compiled = jit(make(compiled_lin, compiled_lin.weight.data))
    eager = make(eager_lin, eager_lin.weight.data)
    with pytest.warns(JitFallbackWarning, match="writes into the array"):
        first = compiled(X)
    assert_twins(compiled_lin, eager_lin, first, eager(X))
    for _ in range(2):
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
    assert_same(compiled_lin.weight.data, eager_lin.weight.data)


# ---------------------------------------------------------------- branches on values: a fallback


def test_a_branch_on_an_outside_masks_any_falls_back_then_follows_eager():
    compiled_lin, eager_lin = linear_twins()
    mask = np.array([True, False])

    def make(lin):
        def step(x):
            out = lin(Tensor(x))
            if mask.any():
                out = out * Tensor(mask.astype(np.float64))
            loss = out.sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with pytest.warns(JitFallbackWarning, match=r"if mask.any\(\)"):
        first = compiled(X)
    assert_twins(compiled_lin, eager_lin, first, eager(X))
    mask[:] = False
    assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


def test_tolist_of_an_outside_index_array_falls_back_then_follows_eager():
    compiled_lin, eager_lin = linear_twins()
    picked = np.array([0, 2])

    def make(lin):
        def step(x):
            loss = lin(Tensor(x[picked.tolist()])).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    with pytest.warns(JitFallbackWarning, match="Python list"):
        first = compiled(X)
    assert_twins(compiled_lin, eager_lin, first, eager(X))
    picked[:] = [1, 3]
    assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


def test_a_numpy_array_attribute_of_a_module_falls_back_then_follows_eager():
    class Shifted(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2, rng=0)
            self.offsets = np.array([1.0, 2.0])

        def forward(self, x):
            return self.lin(x) * Tensor(self.offsets)

    compiled_model, eager_model = Shifted(), Shifted()
    compiled, eager = jit(squared_step(compiled_model)), squared_step(eager_model)
    with pytest.warns(JitFallbackWarning, match="neither an input"):
        first = compiled(X)
    assert_twins(compiled_model, eager_model, first, eager(X))
    compiled_model.offsets[0] = eager_model.offsets[0] = -3.0
    assert_twins(compiled_model, eager_model, compiled(X), eager(X))


# ---------------------------------------------------------------- what is put back after the trace


def test_an_exception_inside_the_traced_step_puts_the_outside_array_back():
    lin = nn.Linear(3, 2, rng=0)
    weights = np.array([1.0, 2.0])
    calls = []

    def step(x):
        loss = (lin(Tensor(x)) * Tensor(weights)).sum()
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("the data loader failed")
        loss.backward()
        return loss

    compiled = jit(step)
    with pytest.raises(ValueError, match="data loader"):
        compiled(X)
    cell = step.__closure__[step.__code__.co_freevars.index("weights")]
    assert cell.cell_contents is weights
    eager_lin = nn.Linear(3, 2, rng=0)
    with no_fallback():
        loss = compiled(X)
    expected = (eager_lin(Tensor(X)) * Tensor(weights)).sum()
    expected.backward()
    assert_twins(lin, eager_lin, loss, expected)


def test_a_refused_step_puts_the_outside_array_and_the_gradients_back():
    lin = nn.Linear(3, 2, rng=0)
    weights = np.array([1.0, 2.0])
    optimizer = SGD(lin.parameters(), lr=0.1)

    def step(x):
        loss = (lin(Tensor(x)) * Tensor(weights)).sum()
        loss.backward()
        optimizer.step()
        return loss

    lin.weight.grad = np.ones((2, 3))
    with pytest.raises(JitError, match="outside the compiled function"):
        jit(step)(X)
    assert step.__closure__[step.__code__.co_freevars.index("weights")].cell_contents is weights
    np.testing.assert_array_equal(lin.weight.grad, np.ones((2, 3)))


# ---------------------------------------------------------------- the checks of a module


def test_a_parameter_replaced_between_calls_traces_again():
    compiled_lin, eager_lin = linear_twins()
    compiled, eager = jit(squared_step(compiled_lin)), squared_step(eager_lin)
    with no_fallback():
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
        for lin in (compiled_lin, eager_lin):
            lin.weight = Parameter(np.ones((2, 3)))
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
    assert compiled.traces == 2


def test_a_bias_set_to_none_between_calls_traces_again():
    compiled_lin, eager_lin = linear_twins()
    compiled, eager = jit(squared_step(compiled_lin)), squared_step(eager_lin)
    with no_fallback():
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
        compiled_lin.bias = eager_lin.bias = None
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
    assert compiled.traces == 2


class Gained(nn.Module):
    """A Linear whose output is multiplied by each of this module's own parameters."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2, rng=0)

    def forward(self, x):
        out = self.lin(x)
        for gain in self._parameters.values():
            out = out * gain
        return out


def test_a_parameter_added_between_calls_traces_again():
    compiled_model, eager_model = Gained(), Gained()
    compiled, eager = jit(squared_step(compiled_model)), squared_step(eager_model)
    with no_fallback():
        assert_twins(compiled_model, eager_model, compiled(X), eager(X))
        for model in (compiled_model, eager_model):
            model.gain = Parameter(np.full(2, 3.0))
        assert_twins(compiled_model, eager_model, compiled(X), eager(X))
        del compiled_model.gain, eager_model.gain
        assert_twins(compiled_model, eager_model, compiled(X), eager(X))


class Doubling(nn.Module):
    """Doubles its Linear's output in training mode."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2, rng=0)

    def forward(self, x):
        out = self.lin(x)
        return out * 2.0 if self.training else out


def test_training_flags_flipped_between_calls_are_followed():
    compiled_model, eager_model = Doubling(), Doubling()
    compiled, eager = jit(squared_step(compiled_model)), squared_step(eager_model)
    with no_fallback():
        assert_twins(compiled_model, eager_model, compiled(X), eager(X))
        for flip in ("eval", "lin.train", "train", "eval"):
            for model in (compiled_model, eager_model):
                if flip == "lin.train":
                    model.lin.train()
                else:
                    getattr(model, flip)()
            assert_twins(compiled_model, eager_model, compiled(X), eager(X))


def test_retain_hidden_switched_on_between_calls_runs_eagerly():
    compiled_rnn, eager_rnn = nn.RNN(3, 4, rng=0), nn.RNN(3, 4, rng=0)

    def make(rnn):
        def step(x):
            out, _ = rnn(Tensor(x))
            loss = out.sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_rnn)), make(eager_rnn)
    x = np.linspace(-1, 1, 30).reshape(5, 2, 3)
    with no_fallback():
        for call in range(4):
            assert_twins(compiled_rnn, eager_rnn, compiled(x), eager(x))
            if call == 1:
                compiled_rnn.retain_hidden = eager_rnn.retain_hidden = True


# ---------------------------------------------------------------- fused weight-gradient sums


def rnn_twins(dtype=np.float64):
    twins = []
    for _ in range(2):
        rnn, head = nn.RNN(3, 4, rng=0), nn.Linear(4, 1, rng=1)
        for p in list(rnn.parameters()) + list(head.parameters()):
            p.data = p.data.astype(dtype)
        twins.append((rnn, head))
    return twins


class Pair:
    """parameters() of an (rnn, head) pair, for assert_twins."""

    def __init__(self, rnn, head):
        self.rnn, self.head = rnn, head

    def parameters(self):
        return list(self.rnn.parameters()) + list(self.head.parameters())


def scaled_rnn_step(rnn, head, scale):
    def step(x):
        out, _ = rnn(Tensor(x))
        loss = head(out).sum() * scale
        loss.backward()
        return loss

    return step


@pytest.mark.parametrize("scale", [1.0, 1e150, 1e154, 1e155, 1e200, 1e300, 1e308])
def test_huge_gradients_of_a_recurrent_weight_match_eager(scale):
    """Elements above about 1e154 overflow the sum of squares: the exact path must give eager's
    values, and an overflow to inf where eager overflows."""
    (compiled_rnn, compiled_head), (eager_rnn, eager_head) = rnn_twins()
    compiled = jit(scaled_rnn_step(compiled_rnn, compiled_head, scale))
    eager = scaled_rnn_step(eager_rnn, eager_head, scale)
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    with no_fallback(), np.errstate(all="ignore"):
        for _ in range(3):
            assert_twins(Pair(compiled_rnn, compiled_head), Pair(eager_rnn, eager_head), compiled(x), eager(x))


def test_nan_and_inf_in_recurrent_weights_match_eager():
    (compiled_rnn, compiled_head), (eager_rnn, eager_head) = rnn_twins()
    for rnn in (compiled_rnn, eager_rnn):
        rnn.weight_hh_l0.data[0, 1] = np.nan
        rnn.weight_ih_l0.data[1, 1] = np.inf
    compiled = jit(scaled_rnn_step(compiled_rnn, compiled_head, 1.0))
    eager = scaled_rnn_step(eager_rnn, eager_head, 1.0)
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    with no_fallback(), np.errstate(all="ignore"):
        for _ in range(2):
            assert_twins(Pair(compiled_rnn, compiled_head), Pair(eager_rnn, eager_head), compiled(x), eager(x))


def test_infs_of_both_signs_at_different_steps_match_eager():
    """+1e308, -1e308, +1e308 at three steps: eager's order of additions decides inf or NaN."""
    (compiled_rnn, compiled_head), (eager_rnn, eager_head) = rnn_twins()
    compiled = jit(scaled_rnn_step(compiled_rnn, compiled_head, 1.0))
    eager = scaled_rnn_step(eager_rnn, eager_head, 1.0)
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    with no_fallback(), np.errstate(all="ignore"):
        assert_twins(Pair(compiled_rnn, compiled_head), Pair(eager_rnn, eager_head), compiled(x), eager(x))
        x[0] *= 1e308
        x[1] *= -1e308
        x[2] *= 1e308
        x[4, 1, 0] = np.nan
        for _ in range(2):
            assert_twins(Pair(compiled_rnn, compiled_head), Pair(eager_rnn, eager_head), compiled(x), eager(x))


@pytest.mark.parametrize("scale, rtol", [(1.0, 1e-5), (1e18, 1e-5), (1e30, RTOL)])
def test_float32_recurrent_gradients_match_eager(scale, rtol):
    """float32's sum of squares overflows above about 1e19: from there the exact path runs (rtol
    1e-12); below, the fused sum agrees to float32's rounding."""
    (compiled_rnn, compiled_head), (eager_rnn, eager_head) = rnn_twins(np.float32)
    compiled = jit(scaled_rnn_step(compiled_rnn, compiled_head, np.float32(scale)))
    eager = scaled_rnn_step(eager_rnn, eager_head, np.float32(scale))
    x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)
    with no_fallback(), np.errstate(all="ignore"):
        for _ in range(2):
            compiled_loss, eager_loss = compiled(x), eager(x)
            assert compiled_rnn.weight_hh_l0.grad.dtype == np.float32
            assert_twins(
                Pair(compiled_rnn, compiled_head), Pair(eager_rnn, eager_head), compiled_loss, eager_loss, rtol
            )


# ---------------------------------------------------------------- steps that rebind, alias, subclass or count


def test_identity_of_two_names_for_one_outside_array_is_kept():
    compiled_lin, eager_lin = linear_twins()
    full = np.ones(2)
    mask = full

    def make(lin):
        def step(x):
            out = lin(Tensor(x))
            if mask is not full:
                out = out * Tensor(mask) * 10.0
            loss = out.sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


def test_a_masked_array_from_outside():
    compiled_lin, eager_lin = linear_twins()
    weights = np.ma.masked_invalid(np.array([1.0, np.nan]))

    def make(lin):
        def step(x):
            loss = (lin(Tensor(x)) * Tensor(weights.filled(0.0))).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    for _ in range(2):
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_an_np_matrix_from_outside():
    compiled_lin, eager_lin = linear_twins()
    mixing = np.matrix([[1.0, 2.0], [3.0, 4.0]])

    def make(lin):
        def step(x):
            square = np.asarray(mixing * mixing)  # a matrix product
            loss = (lin(Tensor(x)) @ Tensor(square)).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    for _ in range(2):
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


def test_rows_of_a_memory_mapped_data_set_use_one_program(tmp_path):
    global MAPPED
    path = os.path.join(tmp_path, "data.npy")
    np.save(path, np.arange(12.0).reshape(4, 3))
    MAPPED = np.load(path, mmap_mode="r")
    compiled_lin, eager_lin = linear_twins()

    def make(lin):
        def step(rows):
            loss = (lin(Tensor(MAPPED[rows])) ** 2).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    for rows in ([0, 2], [1, 3], [3, 3]):
        assert_twins(compiled_lin, eager_lin, compiled(np.array(rows)), eager(np.array(rows)))
    assert compiled.traces == 1


MAPPED = None
RUNNING_MEAN = np.zeros(2)  # rebound by the step below


def test_a_step_that_rebinds_a_global_it_reads():
    global RUNNING_MEAN
    compiled_lin, eager_lin = linear_twins()

    def make(lin):
        def step(x):
            global RUNNING_MEAN
            out = lin(Tensor(x))
            loss = ((out - Tensor(RUNNING_MEAN)) ** 2).sum()
            RUNNING_MEAN = 0.5 * RUNNING_MEAN + 0.5 * out.data.mean(axis=0)
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    compiled_means, eager_means = [], []
    RUNNING_MEAN = np.zeros(2)
    compiled_losses = []
    for _ in range(3):
        compiled_losses.append(compiled(X))
        compiled_means.append(RUNNING_MEAN)
    RUNNING_MEAN = np.zeros(2)
    for loss in compiled_losses:
        assert_same(loss.data, eager(X).data)
        eager_means.append(RUNNING_MEAN)
    for a, b in zip(compiled_means, eager_means):
        assert type(a) is np.ndarray
        assert_same(a, b)


def test_a_step_that_rebinds_a_closure_cell_it_reads():
    compiled_lin, eager_lin = linear_twins()

    def make(lin):
        ema = np.zeros(2)

        def step(x):
            nonlocal ema
            out = lin(Tensor(x))
            loss = ((out - Tensor(ema)) ** 2).sum()
            ema = 0.5 * ema + 0.5 * out.data.mean(axis=0)
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    for _ in range(3):
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


SCALE = np.array([1.0, 2.0])  # rebound by the step below


def test_an_exception_after_the_step_rebinds_a_global_leaves_an_ndarray_there():
    global SCALE
    SCALE = np.array([1.0, 2.0])

    def step(x):
        global SCALE
        SCALE = SCALE * 2.0
        raise ValueError("the data loader failed")

    with pytest.raises(ValueError):
        jit(step)(X)
    assert type(SCALE) is np.ndarray
    np.testing.assert_array_equal(SCALE, [2.0, 4.0])


ALIASED = np.array([1.0, -2.0])  # rebound by the test below


def test_one_array_under_two_names_then_one_name_rebound():
    global ALIASED
    ALIASED = np.array([1.0, -2.0])
    compiled_lin, eager_lin = linear_twins()
    scale = ALIASED

    def make(lin):
        def step(x):
            loss = (lin(Tensor(x)) * Tensor(scale) + Tensor(ALIASED)).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
    ALIASED = np.array([10.0, 20.0])
    assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


def test_one_array_under_two_dict_keys_then_one_key_rebound():
    compiled_lin, eager_lin = linear_twins()
    shared = np.array([1.0, -2.0])
    config = {"scale": shared, "shift": shared}

    def make(lin):
        def step(x):
            loss = (lin(Tensor(x)) * Tensor(config["scale"]) + Tensor(config["shift"])).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
    config["shift"] = np.array([5.0, 7.0])
    assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


def test_the_length_of_an_outside_array_rebound_to_another_length():
    compiled_lin, eager_lin = linear_twins()
    config = {"classes": np.ones(2)}

    def make(lin):
        def step(x):
            loss = lin(Tensor(x)).sum() / len(config["classes"])
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
    config["classes"] = np.ones(7)
    assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


def test_an_optional_dict_entry_removed_between_calls():
    compiled_lin, eager_lin = linear_twins()
    options = {"mask": np.array([1.0, 0.0])}

    def make(lin):
        def step(x):
            out = lin(Tensor(x))
            mask = options.get("mask")
            if mask is not None:
                out = out * Tensor(mask)
            loss = out.sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
    del options["mask"]
    assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))


def test_an_element_read_through_flat_changed_in_place():
    compiled_lin, eager_lin = linear_twins()
    scale = np.array([2.0, 5.0])

    def make(lin):
        def step(x):
            loss = lin(Tensor(x)).sum() * scale.flat[0]
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_lin)), make(eager_lin)
    for _ in range(2):
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
        scale[0] += 1.0


class Warmup(nn.Module):
    """A Linear whose output is scaled by min(1, calls / 4): its forward counts its calls."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2, rng=0)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.lin(x) * min(1.0, self.calls / 4)


def test_a_module_that_counts_its_calls():
    compiled_model, eager_model = Warmup(), Warmup()
    compiled, eager = jit(squared_step(compiled_model)), squared_step(eager_model)
    for _ in range(3):
        assert_twins(compiled_model, eager_model, compiled(X), eager(X))
    assert compiled_model.calls == eager_model.calls


class Tempered(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2, rng=0)
        self.temperature = 0.0

    def forward(self, x):
        return self.lin(x) / self.temperature


def test_a_module_setting_changed_from_zero_to_minus_zero():
    compiled_model, eager_model = Tempered(), Tempered()

    def make(model):
        def step(x):
            loss = model(Tensor(x)).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(make(compiled_model)), make(eager_model)
    with np.errstate(all="ignore"):
        assert_twins(compiled_model, eager_model, compiled(X), eager(X))
        compiled_model.temperature = eager_model.temperature = -0.0
        assert_twins(compiled_model, eager_model, compiled(X), eager(X))


class MaskedOutput(nn.Module):
    """A Linear whose output is multiplied by a Tensor attribute (a buffer)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2, rng=0)
        self.mask = Tensor(np.array([1.0, 0.0]))

    def forward(self, x):
        return self.lin(x) * self.mask


def test_a_modules_tensor_attribute_rebound_between_calls():
    compiled_model, eager_model = MaskedOutput(), MaskedOutput()
    compiled, eager = jit(squared_step(compiled_model)), squared_step(eager_model)
    assert_twins(compiled_model, eager_model, compiled(X), eager(X))
    compiled_model.mask, eager_model.mask = Tensor(np.array([0.0, 1.0])), Tensor(np.array([0.0, 1.0]))
    assert_twins(compiled_model, eager_model, compiled(X), eager(X))


def test_a_jit_step_called_inside_another():
    compiled_lin, eager_lin = linear_twins()
    weights = np.array([2.0, -1.0])

    def make_inner(lin):
        def inner(x):
            return (lin(Tensor(x)) * Tensor(weights)).sum()

        return inner

    def make_outer(inner):
        def outer(x):
            loss = inner(x) * 2.0
            loss.backward()
            return loss

        return outer

    compiled = jit(make_outer(jit(make_inner(compiled_lin))))
    eager = make_outer(make_inner(eager_lin))
    for _ in range(2):
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
        weights[0] += 1.0


def test_a_step_that_logs_an_output_array_into_a_dict():
    compiled_lin, eager_lin = linear_twins()

    def make(lin, log):
        def step(x):
            out = lin(Tensor(x))
            log["out"] = out.data
            loss = (out**2).sum()
            loss.backward()
            return loss

        return step

    compiled_log, eager_log = {}, {}
    compiled, eager = jit(make(compiled_lin, compiled_log)), make(eager_lin, eager_log)
    for _ in range(3):
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
        assert type(compiled_log["out"]) is np.ndarray
        assert_same(compiled_log["out"], eager_log["out"])
        for lin in (compiled_lin, eager_lin):
            lin.weight.data = lin.weight.data * 1.5


def test_a_step_that_appends_its_outputs_to_a_list_inside_a_list_falls_back():
    compiled_lin, eager_lin = linear_twins()

    def make(lin, history):
        def step(x):
            out = lin(Tensor(x))
            history[0].append(out.data)
            loss = (out**2).sum()
            loss.backward()
            return loss

        return step

    compiled_history, eager_history = [[]], [[]]
    compiled, eager = jit(make(compiled_lin, compiled_history)), make(eager_lin, eager_history)
    with pytest.warns(JitFallbackWarning, match="keeps an array in 'history'"):
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
    for _ in range(2):
        assert_twins(compiled_lin, eager_lin, compiled(X), eager(X))
    assert len(compiled_history[0]) == len(eager_history[0]) == 3
    for a, b in zip(compiled_history[0], eager_history[0]):
        assert type(a) is np.ndarray
        assert_same(a, b)


class Chain(nn.Module):
    """x @ p for each of its parameters in turn, in the order parameters() gives them."""

    def __init__(self):
        super().__init__()
        self.first = Parameter(np.array([[1.0, 2.0], [0.0, 1.0]]))
        self.second = Parameter(np.array([[0.0, 1.0], [1.0, 3.0]]))

    def forward(self, x):
        out = x
        for p in self.parameters():
            out = out @ p
        return out


def test_a_modules_parameters_put_back_in_another_order():
    compiled_model, eager_model = Chain(), Chain()
    compiled, eager = jit(squared_step(compiled_model)), squared_step(eager_model)
    x = X[:, :2]
    assert_twins(compiled_model, eager_model, compiled(x), eager(x))
    for model in (compiled_model, eager_model):
        first = model.first
        del model.first
        model.first = first  # now after `second`
    assert_twins(compiled_model, eager_model, compiled(x), eager(x))


class Offset(nn.Module):
    """A Linear whose output is divided by `scale` and shifted by `shift`, two plain settings."""

    def __init__(self, scale, shift):
        super().__init__()
        self.lin = nn.Linear(3, 2, rng=0)
        self.scale, self.shift = scale, shift

    def forward(self, x):
        return self.lin(x) / self.scale + self.shift


@pytest.mark.parametrize(
    "setting, first, then",
    [
        ("scale", np.float32(2.0), np.float32(4.0)),  # a NumPy scalar is a setting too
        ("shift", 0, -0.0),  # equal to an int zero, yet of another type and sign
        ("shift", 0.0, -0.0),
        ("shift", np.float64(0.0), np.float64(-0.0)),
    ],
)
def test_a_number_setting_changed_to_another_type_sign_or_value_traces_again(setting, first, then):
    compiled_model, eager_model = Offset(2.0, 0.0), Offset(2.0, 0.0)
    for model in (compiled_model, eager_model):
        setattr(model, setting, first)
        model.lin.weight.data = -0.0 * model.lin.weight.data  # outputs -0.0 + shift: the shift's sign shows
        model.lin.bias.data = -0.0 * model.lin.bias.data
    compiled, eager = jit(squared_step(compiled_model)), squared_step(eager_model)
    assert_twins(compiled_model, eager_model, compiled(X), eager(X))
    for model in (compiled_model, eager_model):
        setattr(model, setting, then)
    compiled_out, eager_out = compiled_model(Tensor(X)), eager_model(Tensor(X))
    assert_same(compiled_out.data, eager_out.data)
    assert_twins(compiled_model, eager_model, compiled(X), eager(X))
    assert compiled.traces == 2


ZERO_SHIFT = 0  # an outside int the step adds


def test_an_outside_int_zero_changed_to_minus_zero_traces_again():
    global ZERO_SHIFT
    ZERO_SHIFT = 0
    weight = Parameter(np.array([-0.0, -0.0]))

    def step(x):
        out = Tensor(x[:, :2]) * weight + ZERO_SHIFT
        loss = out.sum()
        loss.backward()
        return loss, out

    compiled = jit(step)
    _, out = compiled(X)
    assert not np.signbit(out.data).any()  # -0.0 + 0 is 0.0
    ZERO_SHIFT = -0.0
    _, out = compiled(X)
    assert np.signbit(out.data).all() and compiled.traces == 2  # -0.0 + -0.0 is -0.0


class BatchCounter(nn.Module):
    """A Linear that notes the batch size it saw, in a setting its forward assigns every call."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2, rng=0)
        self.seen = 0

    def forward(self, x):
        self.seen = x.shape[0]
        return self.lin(x)


def test_a_setting_the_forward_assigns_an_equal_value_keeps_the_program():
    compiled_model, eager_model = BatchCounter(), BatchCounter()
    compiled, eager = jit(squared_step(compiled_model)), squared_step(eager_model)
    batch = np.ones((1000, 3))  # 1000 is not one of Python's cached small ints: a new int each call
    compiled(batch)  # the first call sets seen from 0 to 1000: a setting the step changed
    eager(batch)
    recompiled = jit(squared_step(compiled_model))  # traced where seen is 1000 already, and stays so
    with no_fallback():
        for _ in range(3):
            assert_twins(compiled_model, eager_model, recompiled(batch), eager(batch))
    assert recompiled.traces == 1


def test_a_setting_whose_name_is_not_an_identifier_is_checked():
    compiled_model, eager_model = Offset(2.0, 0.0), Offset(2.0, 0.0)
    for model in (compiled_model, eager_model):
        setattr(model, "zero offset", 0.0)  # an odd name, reached only through getattr
    compiled, eager = jit(squared_step(compiled_model)), squared_step(eager_model)
    for _ in range(2):
        assert_twins(compiled_model, eager_model, compiled(X), eager(X))
    setattr(compiled_model, "zero offset", -0.0)
    compiled(X)
    assert compiled.traces == 2


MASKS = np.array([1.0, 0.0])  # kept by the step below in a list


def test_an_outside_array_the_step_keeps_in_a_list_is_the_same_object_afterwards():
    lin = nn.Linear(3, 2, rng=0)
    seen = []

    def step(x):
        seen.append(MASKS)
        loss = (lin(Tensor(x)) * Tensor(MASKS)).sum()
        loss.backward()
        return loss

    with pytest.warns(JitFallbackWarning, match="keeps an array in 'seen'"):
        jit(step)(X)
    assert seen[0] is MASKS
