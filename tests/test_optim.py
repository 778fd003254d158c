"""SGD and Adam against their update rules written out in NumPy, gradient clipping, and a fit."""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.optim import SGD, Adam, Optimizer, clip_grad_norm_, clip_grad_value_

STEPS = 4


def gradient_sequence(shape, seed=3):
    """A different gradient for each step, the same on every call."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(STEPS)]


def run_optimizer(make_optimizer, start, grads):
    """Apply make_optimizer([p]).step() with each gradient in turn; returns p after every step."""
    param = nn.Parameter(start.copy())
    optimizer = make_optimizer([param])
    trajectory = []
    for grad in grads:
        optimizer.zero_grad()
        param.grad = grad.copy()
        optimizer.step()
        trajectory.append(param.data.copy())
    return trajectory


@pytest.fixture
def start():
    return np.random.default_rng(1).standard_normal((2, 3))


# ---------------------------------------------------------------- SGD


@pytest.mark.parametrize(
    "momentum, weight_decay, nesterov",
    [
        (0.0, 0.0, False),
        (0.0, 0.1, False),
        (0.9, 0.0, False),
        (0.9, 0.01, False),
        (0.8, 0.05, True),
    ],
)
def test_sgd_follows_pytorchs_rule(start, momentum, weight_decay, nesterov):
    lr, grads = 0.1, gradient_sequence(start.shape)
    trajectory = run_optimizer(
        lambda ps: SGD(ps, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov), start, grads
    )
    p, buffer = start.copy(), None
    for grad, after in zip(grads, trajectory):
        g = grad + weight_decay * p
        if momentum:
            buffer = g.copy() if buffer is None else momentum * buffer + g
            g = g + momentum * buffer if nesterov else buffer
        p = p - lr * g
        np.testing.assert_allclose(after, p, rtol=1e-14, atol=1e-15)


def test_plain_sgd_is_p_minus_lr_times_grad(start):
    grad = gradient_sequence(start.shape)[0]
    (after,) = run_optimizer(lambda ps: SGD(ps, lr=0.5), start, [grad])
    np.testing.assert_array_equal(after, start - 0.5 * grad)


# ---------------------------------------------------------------- Adam


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_follows_the_bias_corrected_rule(start, weight_decay):
    lr, (beta1, beta2), eps, grads = 0.01, (0.8, 0.95), 1e-6, gradient_sequence(start.shape)
    trajectory = run_optimizer(
        lambda ps: Adam(ps, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay), start, grads
    )
    p, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
    for t, (grad, after) in enumerate(zip(grads, trajectory), start=1):
        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(after, p, rtol=1e-12, atol=1e-15)


def test_adams_first_step_moves_every_weight_by_about_lr(start):
    (after,) = run_optimizer(lambda ps: Adam(ps, lr=0.01), start, gradient_sequence(start.shape)[:1])
    np.testing.assert_allclose(np.abs(after - start), 0.01, rtol=1e-5)


@pytest.mark.parametrize(
    "optimizer_class, options",
    [
        (SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)),
        (SGD, dict(lr=0.1, momentum=0.5)),
        (Adam, dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ],
    ids=["SGD nesterov", "SGD momentum", "Adam"],
)
def test_steps_match_pytorch(start, optimizer_class, options):
    torch = pytest.importorskip("torch")
    grads = gradient_sequence(start.shape)
    ours = run_optimizer(lambda ps: optimizer_class(ps, **options), start, grads)
    theirs = torch.tensor(start.copy(), requires_grad=True)
    optimizer = getattr(torch.optim, optimizer_class.__name__)([theirs], **options)
    for grad, after in zip(grads, ours):
        theirs.grad = torch.tensor(grad)
        optimizer.step()
        np.testing.assert_allclose(after, theirs.detach().numpy(), rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- the Optimizer contract


def test_updates_are_in_place_on_the_same_array(start):
    param = nn.Parameter(start.copy())
    array = param.data
    optimizer = Adam([param])
    param.grad = np.ones_like(start)
    optimizer.step()
    assert param.data is array and not np.array_equal(array, start)


def test_parameters_without_a_gradient_are_skipped_and_keep_their_state():
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(2))
    optimizer = Adam([a, b], lr=0.1)
    a.grad = np.ones(2)
    optimizer.step()
    a_after_its_first_step = a.data.copy()
    np.testing.assert_array_equal(b.data, 0.0)
    assert optimizer.state[a]["step"] == 1 and b not in optimizer.state
    b.grad = np.ones(2)
    optimizer.step()
    np.testing.assert_array_equal(b.data, a_after_its_first_step)  # b's first step, bias-corrected as one
    assert optimizer.state[a]["step"] == 2 and optimizer.state[b]["step"] == 1


def test_zero_grad_sets_every_grad_to_none():
    model = nn.Linear(2, 1, rng=0)
    F.mse_loss(model(np.ones((3, 2))), np.zeros((3, 1))).backward()
    optimizer = SGD(model, lr=0.1)
    assert all(p.grad is not None for p in model.parameters())
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_a_module_gives_its_parameters_in_order():
    model = nn.Linear(2, 1, rng=0)
    assert SGD(model, lr=0.1).param_groups[0]["params"] == list(model.parameters())


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda ps: SGD(ps, lr=-0.1), r"SGD: hyperparameters must be >= 0, got lr=-0.1"),
        (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), r"momentum=-0.5"),
        (lambda ps: SGD(ps, lr=0.1, weight_decay=-1.0), r"weight_decay=-1.0"),
        (lambda ps: SGD(ps, lr=0.1, nesterov=True), r"SGD: nesterov=True needs momentum > 0 and dampening = 0"),
        (lambda ps: Adam(ps, lr=-1e-3), r"Adam: hyperparameters must be >= 0, got lr=-0.001"),
        (lambda ps: Adam(ps, eps=-1.0), r"eps=-1.0"),
        (lambda ps: Adam(ps, betas=(1.0, 0.999)), r"Adam: betas must be in \[0, 1\), got beta1=1.0"),
        (lambda ps: Adam(ps, betas=(0.9, -0.1)), r"beta2=-0.1"),
    ],
)
def test_bad_hyperparameters_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make([nn.Parameter(np.zeros(2))])


def test_bad_parameter_lists_are_errors():
    p = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Adam: got an empty parameter list"):
        Adam(iter([]))
    with pytest.raises(TypeError, match="got one Tensor; wrap it in a list"):
        SGD(p, lr=0.1)
    with pytest.raises(ValueError, match=r"parameter 1 \(unnamed\) appears more than once"):
        SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 is a ndarray, not a Tensor"):
        SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="parameter 0 is not a leaf tensor"):
        SGD([p * 2], lr=0.1)
    with pytest.raises(NotImplementedError):
        p.grad = np.ones(2)
        Optimizer([p], {}).step()


# ---------------------------------------------------------------- clipping


def parameters_with_grads(*grads):
    params = [nn.Parameter(np.zeros_like(np.asarray(g, dtype=float))) for g in grads]
    for param, grad in zip(params, grads):
        param.grad = np.array(grad, dtype=float)
    return params


def test_clip_grad_value_limits_each_element_in_place():
    params = parameters_with_grads([3.0, -0.5, -2.0], [[0.25, 1.5]])
    first = params[0].grad
    clip_grad_value_(params, 1.0)
    assert params[0].grad is first
    np.testing.assert_array_equal(params[0].grad, [1.0, -0.5, -1.0])
    np.testing.assert_array_equal(params[1].grad, [[0.25, 1.0]])


def test_clip_grad_norm_scales_all_gradients_together():
    params = parameters_with_grads([3.0, 0.0], [[4.0]])  # joint 2-norm 5
    total = clip_grad_norm_(params, max_norm=1.0)
    assert isinstance(total, Tensor) and total.shape == () and total.item() == 5.0
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(params[0].grad, [3.0 * scale, 0.0], rtol=1e-15)
    np.testing.assert_allclose(params[1].grad, [[4.0 * scale]], rtol=1e-15)


def test_clip_grad_norm_leaves_small_gradients_alone():
    params = parameters_with_grads([0.3, -0.4])
    assert clip_grad_norm_(params, max_norm=1.0).item() == pytest.approx(0.5, rel=1e-15)
    np.testing.assert_array_equal(params[0].grad, [0.3, -0.4])


@pytest.mark.parametrize("norm_type, expected", [(1.0, 10.0), (np.inf, 4.0), (3.0, (1 + 8 + 27 + 64) ** (1 / 3))])
def test_clip_grad_norm_other_norms(norm_type, expected):
    params = parameters_with_grads([1.0, -2.0], [[3.0], [-4.0]])
    assert clip_grad_norm_(params, max_norm=1e9, norm_type=norm_type) == pytest.approx(expected, rel=1e-14)


def test_clipping_skips_missing_grads_and_accepts_a_module_or_a_tensor():
    model = nn.Linear(2, 1, rng=0)
    assert clip_grad_norm_(model, 1.0) == 0.0
    clip_grad_value_(model, 1.0)
    (param,) = parameters_with_grads([-5.0])
    clip_grad_value_(param, 2.0)
    np.testing.assert_array_equal(param.grad, [-2.0])


def test_clipping_rejects_negative_bounds():
    params = parameters_with_grads([1.0])
    with pytest.raises(ValueError, match="clip_value must be >= 0, got -1"):
        clip_grad_value_(params, -1)
    with pytest.raises(ValueError, match="max_norm must be >= 0, got -2"):
        clip_grad_norm_(params, -2)
    with pytest.raises(ValueError, match="norm_type must be a number or 'inf', got 'two'"):
        clip_grad_norm_(params, 1.0, norm_type="two")


def test_clip_grad_norm_matches_pytorch():
    torch = pytest.importorskip("torch")
    grads = gradient_sequence((3, 2))[:2]
    params = parameters_with_grads(*grads)
    theirs = [torch.zeros(3, 2, dtype=torch.float64, requires_grad=True) for _ in grads]
    for t, g in zip(theirs, grads):
        t.grad = torch.tensor(g)
    total = clip_grad_norm_(params, 0.5)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, 0.5)
    assert total == pytest.approx(their_total.item(), rel=1e-14)
    for param, t in zip(params, theirs):
        np.testing.assert_allclose(param.grad, t.grad.numpy(), rtol=1e-14)


# ---------------------------------------------------------------- a fit


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: Adam(ps, lr=0.05),
    ],
    ids=["SGD momentum", "Adam"],
)
def test_a_small_regression_converges(make):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 3))
    y = x @ np.array([[1.5], [-2.0], [0.5]]) + 0.25
    model = nn.Linear(3, 1, rng=1)
    optimizer = make(model)
    for _ in range(300):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    assert loss.item() < 1e-6
    np.testing.assert_allclose(model.weight.data, [[1.5, -2.0, 0.5]], atol=1e-3)
    np.testing.assert_allclose(model.bias.data, [0.25], atol=1e-3)
