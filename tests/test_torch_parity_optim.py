"""torch.optim and torch.nn.utils as the oracle for the options PyTorch users pass without thinking:
maximize=True on every optimizer, clip_grad_norm_'s 0-d tensor result, NaN and inf gradients,
error_if_nonfinite, foreach, norm_type given as 'inf', and the schedulers MultiStepLR,
MultiplicativeLR, ConstantLR and LinearLR, all step for step and through state_dict."""

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.jit import JitError, jit
from tinygrad_rnn.models import SequenceModel
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.train import Trainer

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")

NAN, INF = math.nan, math.inf
STEPS = 8
DTYPES = {np.float64: torch.float64, np.float32: torch.float32}
TOLERANCE = {np.float64: 1e-12, np.float32: 2e-5}

MAXIMIZE_CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.1)),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.1)),
    ("AdamW", dict(lr=0.1, amsgrad=True, weight_decay=0.1, betas=(0.8, 0.9))),
    ("RMSprop", dict(lr=0.01, momentum=0.5)),
    ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, alpha=0.9)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1)),
]


def case_id(case):
    name, options = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in options.items())


def trajectory(library, make, dtype=np.float64, steps=STEPS, gradient=None):
    """Parameter values after each step, the gradient a function of where the parameters are."""
    starts = [np.array([0.5, -1.0, 2.0], dtype=dtype), np.array([[0.25, -0.75]], dtype=dtype)]
    if gradient is None:

        def gradient(values, step, index):
            return np.sin(3 * values) + 0.3 * values + index

    if library == "tg":
        params = [tg.nn.Parameter(s.copy()) for s in starts]
        optimizer = make(tg.optim, params)
    else:
        params = [torch.tensor(s.copy(), requires_grad=True) for s in starts]
        optimizer = make(torch.optim, params)
    values = []
    for step in range(steps):
        for index, p in enumerate(params):
            current = p.data if library == "tg" else p.detach().numpy()
            grad = np.asarray(gradient(current, step, index), dtype=dtype)
            p.grad = grad if library == "tg" else torch.tensor(grad)
        optimizer.step()
        values.append([np.array(p.data if library == "tg" else p.detach().numpy()) for p in params])
    return values


def assert_same_trajectories(ours, theirs, tolerance):
    for step, (mine, its) in enumerate(zip(ours, theirs)):
        for index, (a, b) in enumerate(zip(mine, its)):
            assert a.dtype == b.dtype, f"step {step}, param {index}: dtype {a.dtype}, torch {b.dtype}"
            np.testing.assert_allclose(
                a, b, rtol=tolerance, atol=tolerance, equal_nan=True, err_msg=f"step {step}, param {index}"
            )


# ---------------------------------------------------------------- maximize


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", MAXIMIZE_CASES, ids=case_id)
def test_maximize_follows_torchs_trajectory(case, dtype):
    name, options = case

    def make(optim, params):
        return getattr(optim, name)(params, maximize=True, **options)

    assert_same_trajectories(trajectory("tg", make, dtype), trajectory("torch", make, dtype), TOLERANCE[dtype])


@pytest.mark.parametrize("case", MAXIMIZE_CASES, ids=case_id)
def test_maximize_false_is_the_default_and_maximize_ascends(case):
    """maximize=False is what no option gives; maximize=True differs from it and climbs f(p) = -sum(p**2)."""
    name, options = case

    def plain(optim, params):
        return getattr(optim, name)(params, **options)

    def explicit(optim, params):
        return getattr(optim, name)(params, maximize=False, **options)

    assert_same_trajectories(trajectory("tg", plain), trajectory("tg", explicit), 0.0)

    def ascend(optim, params):
        return getattr(optim, name)(params, maximize=True, **options)

    def gradient(values, step, index):  # of f(p) = -sum(p**2), whose maximum is p = 0
        return -2 * values

    path = trajectory("tg", ascend, gradient=gradient, steps=3)
    start = [np.array([0.5, -1.0, 2.0]), np.array([[0.25, -0.75]])]
    assert sum(np.sum(p**2) for p in path[-1]) < sum(np.sum(p**2) for p in start)


@pytest.mark.parametrize("bad", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("case", MAXIMIZE_CASES, ids=case_id)
def test_a_nonfinite_gradient_gives_torchs_nan_and_inf(case, bad):
    """A NaN or inf gradient element at step 2 poisons that element's state as in torch; the
    other elements go on as before, and NumPy raises no warning (errors are turned on here)."""
    name, options = case

    def make(optim, params):
        return getattr(optim, name)(params, maximize=True, **options)

    def gradient(values, step, index):
        with np.errstate(all="ignore"):  # cos(inf) is NaN, once the parameter is inf
            grad = np.cos(values) + index
        if step == 2 and index == 0:
            grad[1] = bad
        return grad

    with np.errstate(all="raise"):
        ours = trajectory("tg", make, gradient=gradient)
    theirs = trajectory("torch", make, gradient=gradient)
    assert_same_trajectories(ours, theirs, 1e-12)
    assert np.isfinite(ours[-1][0][[0, 2]]).all() and np.isfinite(ours[-1][1]).all()


def test_the_adversarial_cases_of_maximize():
    """The five options that PyTorch takes with maximize=True, one trajectory each."""
    cases = [
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
        ("Adam", dict(lr=0.1, amsgrad=True)),
        ("AdamW", dict(lr=0.1)),
        ("RMSprop", dict(lr=0.01, momentum=0.5)),
        ("Adagrad", dict(lr=0.1)),
    ]
    for name, options in cases:

        def make(optim, params, name=name, options=options):
            return getattr(optim, name)(params, maximize=True, **options)

        assert_same_trajectories(trajectory("tg", make, steps=6), trajectory("torch", make, steps=6), 1e-12)


@pytest.mark.parametrize("case", MAXIMIZE_CASES, ids=case_id)
def test_a_state_dict_carries_maximize_and_resumes_exactly(case):
    """Three steps, state_dict, a fresh optimizer built without maximize, load_state_dict, five
    more steps: the same path as eight uninterrupted steps and as torch's."""
    name, options = case

    def resumed(optim, params):
        first = getattr(optim, name)(params, maximize=True, **options)
        return ResumingOptimizer(first, lambda: getattr(optim, name)(params, **options))

    uninterrupted = trajectory("tg", lambda optim, ps: getattr(optim, name)(ps, maximize=True, **options))
    ours = trajectory("tg", resumed)
    theirs = trajectory("torch", resumed)
    assert_same_trajectories(ours, uninterrupted, 0.0)
    assert_same_trajectories(ours, theirs, 1e-12)


class ResumingOptimizer:
    """Steps one optimizer three times, then moves its state_dict into a fresh one and steps that."""

    def __init__(self, first, make_fresh):
        self.current, self.make_fresh, self.steps = first, make_fresh, 0

    def step(self):
        if self.steps == 3:
            saved = self.current.state_dict()
            assert all(group["maximize"] is True for group in saved["param_groups"])
            self.current = self.make_fresh()
            assert all(group["maximize"] is False for group in self.current.param_groups)
            self.current.load_state_dict(saved)
            assert all(group["maximize"] is True for group in self.current.param_groups)
        self.current.step()
        self.steps += 1


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_a_state_dict_saved_without_maximize_loads_as_minimizing(name):
    """A state saved before the option existed lacks it: it loads as the constructor's default
    (maximize=False), as torch fills it, whatever the loading optimizer was built with."""
    p = tg.nn.Parameter(np.array([1.0, -2.0]))
    source = getattr(tg.optim, name)([p], lr=0.1)
    p.grad = np.array([0.5, 0.25])
    source.step()
    saved = source.state_dict()
    for group in saved["param_groups"]:
        del group["maximize"]
    target = getattr(tg.optim, name)([p], lr=0.1, maximize=True)
    target.load_state_dict(saved)
    assert target.param_groups[0]["maximize"] is False
    before = p.data.copy()
    target.step()
    assert (np.sign(before - p.data) == np.sign(p.grad)).all()  # descended


def test_a_maximizing_step_outside_a_compiled_function_matches_eager():
    """jit compiles forward and backward only (an optimizer step inside is refused); a
    maximize=True optimizer stepping after each compiled call moves the model as eager does."""

    def model_and_optimizer():
        rnn, head = tg.nn.RNN(2, 4, rng=0), tg.nn.Linear(4, 1, rng=1)
        params = [*rnn.parameters(), *head.parameters()]
        return rnn, head, params, tg.optim.Adam(params, lr=0.05, weight_decay=0.01, maximize=True)

    def step_of(rnn, head):
        def step(x, y):
            output, _ = rnn(x)
            loss = -F.mse_loss(head(output[-1]), y)  # maximize the negated loss: minimize the loss
            loss.backward()
            return loss

        return step

    rng = np.random.default_rng(3)
    batches = [(rng.standard_normal((5, 3, 2)), rng.standard_normal((3, 1))) for _ in range(3)]
    eager_rnn, eager_head, eager_params, eager_optimizer = model_and_optimizer()
    jit_rnn, jit_head, jit_params, jit_optimizer = model_and_optimizer()
    eager_step, compiled_step = step_of(eager_rnn, eager_head), jit(step_of(jit_rnn, jit_head))
    eager_losses, jit_losses = [], []
    for x, y in batches:
        for optimizer, step, losses in (
            (eager_optimizer, eager_step, eager_losses),
            (jit_optimizer, compiled_step, jit_losses),
        ):
            optimizer.zero_grad()
            losses.append(step(x, y).item())
            optimizer.step()
    assert compiled_step.traces == 1
    np.testing.assert_allclose(jit_losses, eager_losses, rtol=1e-10)
    for p, q in zip(eager_params, jit_params):
        np.testing.assert_allclose(q.data, p.data, rtol=1e-9, atol=1e-12)


def test_a_maximizing_step_inside_a_compiled_function_is_refused():
    rnn = tg.nn.RNN(2, 3, rng=0)
    optimizer = tg.optim.SGD(rnn, lr=0.1, maximize=True)

    def step(x):
        output, _ = rnn(x)
        loss = output.sum()
        loss.backward()
        optimizer.step()
        return loss

    with pytest.raises(JitError, match="outside the compiled function"):
        jit(step)(np.ones((3, 2, 2)))


# ---------------------------------------------------------------- clip_grad_norm_


def both_with_grads(*grads, dtype=np.float64):
    """Parameters with these gradients, ours and torch's."""
    ours, theirs = [], []
    for grad in grads:
        grad = np.array(grad, dtype=dtype)
        p = tg.nn.Parameter(np.zeros_like(grad))
        p.grad = grad.copy()
        q = torch.zeros(grad.shape, dtype=DTYPES[dtype], requires_grad=True)
        q.grad = torch.tensor(grad.copy())
        ours.append(p)
        theirs.append(q)
    return ours, theirs


def assert_same_clipping(ours, theirs, total, their_total, tolerance=1e-12):
    assert isinstance(total, Tensor) and total.shape == () and total.requires_grad is False
    their_total = their_total.numpy()
    assert total.dtype == their_total.dtype, f"total dtype {total.dtype}, torch {their_total.dtype}"
    np.testing.assert_allclose(total.data, their_total, rtol=tolerance, atol=0, equal_nan=True)
    for index, (p, q) in enumerate(zip(ours, theirs)):
        assert p.grad.dtype == q.grad.numpy().dtype
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=tolerance, atol=0, equal_nan=True, err_msg=str(index))


GRADIENT_SETS = {
    "large": ([3.0, -4.0, 1.5], [[2.0], [-0.5]]),
    "small": ([0.01, -0.02], [[0.03]]),
    "nan": ([NAN, 1.0, 1.0], [[2.0]]),
    "inf": ([INF, 1.0], [[-2.0]]),
    "-inf and nan": ([-INF, 1.0], [[NAN]]),
    "zeros": ([0.0, 0.0], [[0.0]]),
    "one huge element": ([1e200],),
    "just under max_norm": ([0.6, -0.8 + 1e-8],),
    "a 0-d and a size-0 grad": (2.5, np.zeros((0, 3))),
}


NORM_TYPES = [2.0, 1.0, 3.0, 0.5, INF, "inf", -INF, -1.0, 0.0]
DEFINED_NORMS = [  # a size-0 gradient has no inf-norm nor negative norm: test_an_undefined_norm_...
    (grads, norm_type)
    for grads in GRADIENT_SETS
    for norm_type in NORM_TYPES
    if not ("size-0" in grads and (norm_type in (INF, "inf") or float(norm_type) < 0))
]


@pytest.mark.parametrize("grads, norm_type", DEFINED_NORMS, ids=str)
def test_clip_grad_norm_equals_torchs(grads, norm_type):
    """Total norm (a 0-d tensor) and clipped gradients as torch's, for every norm type torch
    takes: a NaN total makes every gradient NaN, an infinite one makes the finite ones 0."""
    ours, theirs = both_with_grads(*GRADIENT_SETS[grads])
    with np.errstate(all="raise"):
        total = tg.optim.clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
    assert_same_clipping(ours, theirs, total, their_total)


@pytest.mark.parametrize("grads", ["large", "small", "nan", "inf"], ids=str)
def test_float32_and_mixed_dtype_clipping_equals_torchs(grads):
    """float32 grads: a float32 total, as in torch; float32 with float64: a float64 total."""
    first, second = GRADIENT_SETS[grads]
    ours, theirs = both_with_grads(first, second, dtype=np.float32)
    total = tg.optim.clip_grad_norm_(ours, 0.5)
    assert_same_clipping(ours, theirs, total, torch.nn.utils.clip_grad_norm_(theirs, 0.5), tolerance=1e-6)
    ours32, theirs32 = both_with_grads(first, dtype=np.float32)
    ours64, theirs64 = both_with_grads(second)
    total = tg.optim.clip_grad_norm_(ours32 + ours64, 0.5)
    their_total = torch.nn.utils.clip_grad_norm_(theirs32 + theirs64, 0.5)
    assert_same_clipping(ours32 + ours64, theirs32 + theirs64, total, their_total, tolerance=1e-6)


def test_clip_grad_norm_with_a_nan_gradient_makes_every_gradient_nan():
    ours, theirs = both_with_grads([NAN, 1.0, 1.0], [5.0])
    tg.optim.clip_grad_norm_(ours, 1.0)
    torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, q.grad.numpy())
        assert np.isnan(p.grad).all()


def test_clip_grad_norm_returns_a_0d_tensor_whose_item_is_the_norm():
    (p,), _ = both_with_grads([3.0, 4.0])
    total = tg.optim.clip_grad_norm_([p], 1.0)
    assert isinstance(total, Tensor) and total.shape == () and total.dtype == np.float64
    assert total.item() == 5.0 and float(total) == 5.0
    no_grads = tg.optim.clip_grad_norm_([tg.nn.Parameter(np.zeros(2))], 1.0)
    assert isinstance(no_grads, Tensor) and no_grads.shape == () and no_grads.item() == 0.0


@pytest.mark.parametrize("bad", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
def test_error_if_nonfinite_raises_as_torch_and_leaves_the_gradients(bad):
    ours, theirs = both_with_grads([bad, 1.0], [[2.0]])
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    expected = "nan" if math.isnan(bad) else "inf"
    with pytest.raises(RuntimeError, match=rf"total norm of order 2 of the gradients is {expected}, not finite"):
        tg.optim.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, q.grad.numpy())  # untouched on both sides
    with pytest.raises(RuntimeError, match="order inf"):
        tg.optim.clip_grad_norm_(ours, 1.0, norm_type="inf", error_if_nonfinite=True)


def test_error_if_nonfinite_with_a_finite_norm_clips_as_usual():
    ours, theirs = both_with_grads([3.0, -4.0], [[12.0]])
    total = tg.optim.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    assert_same_clipping(ours, theirs, total, their_total)


@pytest.mark.parametrize("foreach", [None, True, False])
def test_foreach_is_taken_and_changes_nothing(foreach):
    ours, theirs = both_with_grads([3.0, -4.0, NAN], [[12.0]])
    total = tg.optim.clip_grad_norm_(ours, 1.0, foreach=foreach)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, 1.0, foreach=foreach)
    assert_same_clipping(ours, theirs, total, their_total)
    ours, theirs = both_with_grads([3.0, -0.5, NAN], [[-12.0]])
    tg.optim.clip_grad_value_(ours, 1.0, foreach=foreach)
    torch.nn.utils.clip_grad_value_(theirs, 1.0, foreach=foreach)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, q.grad.numpy())


def test_clip_grad_norm_takes_a_module_a_tensor_and_positional_options():
    model = tg.nn.Linear(2, 2, rng=0)
    for p in model.parameters():
        p.grad = np.full(p.shape, 3.0)
    total = tg.optim.clip_grad_norm_(model, 1.0, "inf", False, None)
    assert total.item() == 3.0
    assert all(np.allclose(p.grad, 3.0 / (3.0 + 1e-6)) for p in model.parameters())
    (p,), (q,) = both_with_grads([-3.0, 4.0])
    assert_same_clipping([p], [q], tg.optim.clip_grad_norm_(p, 2.0), torch.nn.utils.clip_grad_norm_(q, 2.0))


@pytest.mark.parametrize("norm_type", [INF, "inf", -INF, -2.0])
def test_an_undefined_norm_of_a_size_0_gradient_raises(norm_type):
    """torch raises RuntimeError (the max or min of nothing); so do we, naming the order."""
    ours, theirs = both_with_grads(np.zeros((0, 3)), [1.0])
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
    order = f"{float(norm_type):g}"
    with pytest.raises(RuntimeError, match=f"the {order}-norm of a size-0 gradient is undefined"):
        tg.optim.clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    np.testing.assert_array_equal(ours[1].grad, [1.0])


@pytest.mark.parametrize("norm_type", ["two", None, NAN, "nan"], ids=str)
def test_a_norm_type_that_is_no_number_is_named(norm_type):
    (p,), _ = both_with_grads([1.0])
    with pytest.raises(ValueError, match="norm_type must be a number or 'inf'"):
        tg.optim.clip_grad_norm_([p], 1.0, norm_type=norm_type)
    np.testing.assert_array_equal(p.grad, [1.0])


def test_the_trainer_still_clips_by_norm():
    """train.Trainer(clip_norm=...) uses clip_grad_norm_ between backward and step."""
    model = SequenceModel(2, 3, 1, rng=0)
    trainer = Trainer(
        model, F.mse_loss, tg.optim.SGD(model, lr=0.0), batch_size=4, clip_norm=1e-3, progress=False, jit=False
    )
    rng = np.random.default_rng(0)
    trainer.fit(rng.standard_normal((4, 5, 2)), rng.standard_normal((4, 1)), epochs=1)
    total = math.sqrt(sum(np.sum(p.grad**2) for p in model.parameters()))
    assert total <= 1e-3


# ---------------------------------------------------------------- schedulers

SCHEDULES = [
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.5)),
    ("MultiStepLR", dict(milestones=(7, 3))),
    ("MultiplicativeLR", dict(lr_lambda=lambda epoch: 0.9 if epoch % 2 else 1.05)),
    ("ConstantLR", dict(factor=0.25, total_iters=4)),
    ("ConstantLR", dict()),
    ("LinearLR", dict(start_factor=0.1, total_iters=6)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.2, total_iters=5)),
    ("LinearLR", dict()),
]


def schedule_id(case):
    name, options = case
    shown = {k: v for k, v in options.items() if not callable(v)}
    return name + "-" + "-".join(f"{k}={v}" for k, v in shown.items())


def rates(library, make_schedule, epochs=15, resume_at=None):
    """Each group's rate after each epoch; with resume_at, the optimizer and the schedule are
    built afresh at that epoch and take the state_dicts of the old ones."""
    optim = tg.optim if library == "tg" else torch.optim
    if library == "tg":
        params = [tg.nn.Parameter(np.zeros(2)), tg.nn.Parameter(np.zeros(1))]
    else:
        params = [torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)]

    def build():
        optimizer = optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], lr=0.1)
        return optimizer, make_schedule(optim.lr_scheduler, optimizer)

    optimizer, schedule = build()
    seen = [[group["lr"] for group in optimizer.param_groups]]
    for epoch in range(epochs):
        if epoch == resume_at:
            saved_optimizer, saved_schedule = optimizer.state_dict(), schedule.state_dict()
            optimizer, schedule = build()
            optimizer.load_state_dict(saved_optimizer)
            schedule.load_state_dict(saved_schedule)
        optimizer.step()
        schedule.step()
        seen.append([group["lr"] for group in optimizer.param_groups])
        assert schedule.get_last_lr() == seen[-1]
    return seen


@pytest.mark.parametrize("case", SCHEDULES, ids=schedule_id)
def test_new_schedules_equal_torchs_over_15_epochs(case):
    name, options = case

    def make(schedulers, optimizer):
        return getattr(schedulers, name)(optimizer, **options)

    np.testing.assert_allclose(rates("tg", make), rates("torch", make), rtol=1e-14)


@pytest.mark.parametrize("case", SCHEDULES, ids=schedule_id)
def test_new_schedules_resume_from_their_state_dict(case):
    name, options = case

    def make(schedulers, optimizer):
        return getattr(schedulers, name)(optimizer, **options)

    uninterrupted = rates("tg", make)
    np.testing.assert_allclose(rates("tg", make, resume_at=4), uninterrupted, rtol=1e-14)
    np.testing.assert_allclose(rates("tg", make, resume_at=4), rates("torch", make, resume_at=4), rtol=1e-14)


def test_multistep_state_dict_holds_the_milestones_as_torchs():
    optimizer = tg.optim.SGD([tg.nn.Parameter(np.zeros(1))], lr=1.0)
    schedule = tg.optim.lr_scheduler.MultiStepLR(optimizer, [2, 2, 5], gamma=0.5)
    saved = schedule.state_dict()
    assert saved["milestones"] == {2: 2, 5: 1} and saved["gamma"] == 0.5 and saved["last_epoch"] == 0
    assert "optimizer" not in saved


@pytest.mark.parametrize(
    "first, second",
    [
        (("LinearLR", dict(start_factor=0.2, total_iters=4)), ("ExponentialLR", dict(gamma=0.9))),
        (("MultiStepLR", dict(milestones=[3, 6])), ("ConstantLR", dict(factor=0.5, total_iters=5))),
        (("MultiplicativeLR", dict(lr_lambda=lambda e: 0.95)), ("StepLR", dict(step_size=4, gamma=0.5))),
    ],
    ids=["warmup-then-decay", "multistep-constant", "multiplicative-step"],
)
def test_two_new_schedules_on_one_optimizer_compose_as_torchs(first, second):
    def make(schedulers, optimizer):
        schedules = [getattr(schedulers, name)(optimizer, **options) for name, options in (first, second)]
        return Both(schedules)

    np.testing.assert_allclose(rates("tg", make), rates("torch", make), rtol=1e-14)


class Both:
    """Two schedules stepped together, each epoch, in order."""

    def __init__(self, schedules):
        self.schedules = schedules

    def step(self):
        for schedule in self.schedules:
            schedule.step()

    def get_last_lr(self):
        return self.schedules[-1].get_last_lr()

    def state_dict(self):
        return [schedule.state_dict() for schedule in self.schedules]

    def load_state_dict(self, states):
        for schedule, state in zip(self.schedules, states):
            schedule.load_state_dict(state)


def test_bad_new_schedule_options_are_named():
    schedulers = tg.optim.lr_scheduler
    optimizer = tg.optim.SGD([tg.nn.Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(TypeError, match=r"MultiStepLR: milestones must be epoch numbers \(ints\), got \[2.5\]"):
        schedulers.MultiStepLR(optimizer, [1, 2.5])
    with pytest.raises(ValueError, match="ConstantLR: factor must be in \\[0, 1\\], got 2"):
        schedulers.ConstantLR(optimizer, factor=2)
    with pytest.raises(ValueError, match="LinearLR: start_factor must be in \\(0, 1\\], got 0"):
        schedulers.LinearLR(optimizer, start_factor=0)
    with pytest.raises(ValueError, match="LinearLR: end_factor must be in \\[0, 1\\], got -0.5"):
        schedulers.LinearLR(optimizer, end_factor=-0.5)
    with pytest.raises(ValueError, match="MultiplicativeLR: got 2 functions for 1 parameter groups"):
        schedulers.MultiplicativeLR(optimizer, [lambda e: 1.0, lambda e: 1.0])
    with pytest.raises(TypeError, match="MultiplicativeLR: lr_lambda must be a function"):
        schedulers.MultiplicativeLR(optimizer, 0.9)
    assert optimizer.param_groups[0]["lr"] == 0.1  # no failed construction changed the rate


@pytest.mark.parametrize("case", SCHEDULES, ids=schedule_id)
@pytest.mark.parametrize("last_epoch", [0, 3, 5])
def test_new_schedules_built_at_a_later_epoch_equal_torchs(case, last_epoch):
    """Built with last_epoch=k on groups holding "initial_lr": the construction step is not an
    epoch of the schedule's own (LinearLR and MultiplicativeLR leave the rate), as in torch."""
    name, options = case

    def make(schedulers, optimizer):
        for group in optimizer.param_groups:
            group["initial_lr"] = group["lr"] * 2
        return getattr(schedulers, name)(optimizer, last_epoch=last_epoch, **options)

    np.testing.assert_allclose(rates("tg", make, epochs=10), rates("torch", make, epochs=10), rtol=1e-14)
