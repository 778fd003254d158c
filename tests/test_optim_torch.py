"""Every optimizer and learning-rate schedule against PyTorch's, step for step; parameter groups,
state_dict round trips, zero_grad, and the in-place writes an optimizer counts."""

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.nn import Parameter

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")

STEPS = 50
SHAPES = [(3, 4), (4,)]


def starts():
    rng = np.random.default_rng(7)
    return [rng.standard_normal(shape) for shape in SHAPES]


def gradient_of(values: np.ndarray, index: int) -> np.ndarray:
    """A gradient that depends on where the parameter is, so a wrong step changes every later one."""
    offset = np.linspace(-1.0, 1.0, values.size).reshape(values.shape) * (index + 1)
    return np.sin(3.0 * values) + 0.5 * values + offset


def our_trajectory(make, groups=None, steps=STEPS):
    params = [Parameter(s.copy()) for s in starts()]
    optimizer = make(params if groups is None else groups(params))
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        for index, p in enumerate(params):
            p.grad = gradient_of(p.data, index)
        optimizer.step()
        trajectory.append([p.data.copy() for p in params])
    return trajectory


def torch_trajectory(make, groups=None, steps=STEPS):
    params = [torch.tensor(s.copy(), requires_grad=True) for s in starts()]
    optimizer = make(params if groups is None else groups(params))
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        for index, p in enumerate(params):
            p.grad = torch.from_numpy(gradient_of(p.detach().numpy(), index))
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


def assert_same_trajectory(ours, theirs, tolerance=1e-12):
    for step, (mine, its) in enumerate(zip(ours, theirs)):
        for index, (a, b) in enumerate(zip(mine, its)):
            np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance, err_msg=f"step {step}, param {index}")


CASES = [
    ("AdamW", {}),
    ("AdamW", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("AdamW", dict(lr=0.02, weight_decay=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.02, weight_decay=0.05, amsgrad=True)),
    ("RMSprop", {}),
    ("RMSprop", dict(lr=0.005, alpha=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.005, momentum=0.9)),
    ("RMSprop", dict(lr=0.003, momentum=0.5, centered=True, weight_decay=0.01, eps=1e-6)),
    ("Adagrad", {}),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
]


@pytest.mark.parametrize("name, options", CASES, ids=[f"{n} {o}" for n, o in CASES])
def test_trajectory_equals_pytorchs_over_50_steps(name, options):
    ours = our_trajectory(lambda ps: getattr(tg.optim, name)(ps, **options))
    theirs = torch_trajectory(lambda ps: getattr(torch.optim, name)(ps, **options))
    assert_same_trajectory(ours, theirs)
    assert not np.allclose(ours[-1][0], starts()[0])  # the parameters did move


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_each_group_uses_its_own_options(name):
    options = dict(lr=0.01, weight_decay=0.02) if name != "SGD" else dict(lr=0.01, momentum=0.9)

    def groups(params):
        return [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.1, "weight_decay": 0.3}]

    ours = our_trajectory(lambda gs: getattr(tg.optim, name)(gs, **options), groups)
    theirs = torch_trajectory(lambda gs: getattr(torch.optim, name)(gs, **options), groups)
    assert_same_trajectory(ours, theirs)


def test_groups_take_missing_options_from_the_defaults():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    optimizer = tg.optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in optimizer.param_groups] == [0.9, 0.9]
    assert optimizer.param_groups[1]["params"] == [b]


def test_bad_groups_are_named():
    a = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match=r"SGD: group 1, parameter 0 \(unnamed\) appears more than once"):
        tg.optim.SGD([{"params": [a]}, {"params": [a]}], lr=0.1)
    with pytest.raises(ValueError, match="SGD: hyperparameters must be >= 0, got lr=-1"):
        tg.optim.SGD([{"params": [a], "lr": -1}], lr=0.1)
    with pytest.raises(ValueError, match=r"RMSprop: hyperparameters must be >= 0, got alpha=-0.5"):
        tg.optim.RMSprop([a], alpha=-0.5)
    with pytest.raises(ValueError, match=r"AdamW: betas must be in \[0, 1\), got beta2=1.5"):
        tg.optim.AdamW([a], betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="Adagrad: hyperparameters must be >= 0, got lr_decay=-0.1"):
        tg.optim.Adagrad([a], lr_decay=-0.1)
    with pytest.raises(TypeError, match="a parameter group must be a dict with a 'params' entry"):
        tg.optim.SGD([a], lr=0.1).add_param_group([a])


def test_step_returns_the_closures_loss():
    w = Parameter(np.array([2.0]))
    optimizer = tg.optim.SGD([w], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    assert loss.item() == 4.0 and w.data[0] == 2.0 - 0.25 * 4.0


# ---------------------------------------------------------------- zero_grad


def test_zero_grad_sets_to_none_by_default_and_zeros_in_place_on_request():
    p = Parameter(np.ones(3))
    optimizer = tg.optim.Adam([p])
    p.grad = np.ones(3)
    optimizer.zero_grad()
    assert p.grad is None
    p.grad = grad = np.ones(3)
    optimizer.zero_grad(set_to_none=False)
    assert p.grad is grad and np.array_equal(grad, np.zeros(3))


# ---------------------------------------------------------------- state_dict


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: tg.optim.SGD(ps, lr=0.05, momentum=0.9),
        lambda ps: tg.optim.AdamW(ps, lr=0.05, amsgrad=True),
        lambda ps: tg.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
        lambda ps: tg.optim.Adagrad(ps, lr=0.1, lr_decay=0.1),
    ],
    ids=["SGD", "AdamW", "RMSprop", "Adagrad"],
)
def test_a_state_dict_round_trip_resumes_training_exactly(make):
    straight = our_trajectory(make, steps=20)
    params = [Parameter(s.copy()) for s in starts()]
    optimizer = make(params)

    def run(optimizer, params, steps):
        for _ in range(steps):
            optimizer.zero_grad()
            for index, p in enumerate(params):
                p.grad = gradient_of(p.data, index)
            optimizer.step()

    run(optimizer, params, 10)
    saved, values = optimizer.state_dict(), [p.data.copy() for p in params]
    run(optimizer, params, 3)  # changes after saving must not reach the saved dict
    resumed_params = [Parameter(v) for v in values]
    resumed = make(resumed_params)
    resumed.load_state_dict(saved)
    run(resumed, resumed_params, 10)
    for p, expected in zip(resumed_params, straight[-1]):
        np.testing.assert_array_equal(p.data, expected)


def test_state_dict_numbers_parameters_through_the_groups():
    a, b, c = (Parameter(np.zeros(n)) for n in (1, 2, 3))
    optimizer = tg.optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}])
    c.grad = np.ones(3)
    optimizer.step()
    saved = optimizer.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2]]
    assert saved["param_groups"][1]["lr"] == 0.5 and list(saved["state"]) == [2]
    assert saved["state"][2]["step"] == 1 and saved["state"][2]["exp_avg"].shape == (3,)


def test_a_mismatched_state_dict_raises_and_changes_nothing():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    optimizer = tg.optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = np.ones(2), np.ones(3)
    optimizer.step()
    before = optimizer.state_dict()
    other = tg.optim.Adam([Parameter(np.zeros(3)), Parameter(np.zeros(2))], lr=0.7)
    for p in other.param_groups[0]["params"]:
        p.grad = np.ones(p.shape)
    other.step()
    with pytest.raises(
        ValueError,
        match=r"parameter 0 \(unnamed\): state 'exp_avg' has shape \(3,\), "
        r"the parameter \(2,\)",
    ):
        optimizer.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="the state has 2 parameter groups, the optimizer 1"):
        optimizer.load_state_dict({"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]})
    with pytest.raises(ValueError, match="group 0 has 1 parameters in the state, 2 in the optimizer"):
        optimizer.load_state_dict({"state": {}, "param_groups": [{"params": [0], "lr": 1.0}]})
    after = optimizer.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index in (0, 1):
        np.testing.assert_array_equal(after["state"][index]["exp_avg"], before["state"][index]["exp_avg"])


# ---------------------------------------------------------------- learning-rate schedules

SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=20)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 1.0 / (1.0 + epoch) + 0.1 * math.sin(epoch))),
]


def run_schedule(optim_module, params, make_scheduler, metrics=None, steps=20):
    optimizer = optim_module.SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.3}], lr=0.1)
    scheduler = make_scheduler(optimizer)
    lrs = [scheduler.get_last_lr()]
    for epoch in range(steps):
        optimizer.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[epoch])
        lrs.append(scheduler.get_last_lr())
        assert lrs[-1] == [g["lr"] for g in optimizer.param_groups]
    return lrs


def both_schedules(name, options, metrics=None):
    ours = run_schedule(
        tg.optim,
        [Parameter(np.zeros(1)), Parameter(np.zeros(1))],
        lambda o: getattr(tg.optim.lr_scheduler, name)(o, **options),
        metrics,
    )
    theirs = run_schedule(
        torch.optim,
        [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)],
        lambda o: getattr(torch.optim.lr_scheduler, name)(o, **options),
        metrics,
    )
    return np.array(ours), np.array(theirs)


@pytest.mark.parametrize("name, options", SCHEDULES, ids=[f"{n} {sorted(o)}" for n, o in SCHEDULES])
def test_schedule_equals_pytorchs_over_20_steps(name, options):
    ours, theirs = both_schedules(name, options)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert len(np.unique(ours[:, 0])) > 2  # the schedule did change the rate


@pytest.mark.parametrize(
    "options",
    [
        dict(patience=2, factor=0.5),
        dict(mode="max", patience=1, cooldown=2, threshold=0.05, threshold_mode="abs", min_lr=[0.02, 0.01]),
        dict(patience=0, factor=0.3, min_lr=0.005, threshold=0.1),
    ],
)
def test_reduce_on_plateau_equals_pytorchs_over_20_steps(options):
    metrics = [
        1.0,
        0.9,
        0.95,
        0.91,
        0.92,
        0.8,
        0.85,
        0.86,
        0.84,
        0.83,
        0.9,
        0.7,
        0.71,
        0.72,
        0.73,
        0.74,
        0.69,
        0.75,
        0.76,
        0.77,
    ]
    ours, theirs = both_schedules("ReduceLROnPlateau", options, metrics)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert len(np.unique(ours[:, 0])) > 1


def test_two_schedules_on_one_optimizer_compose_as_pytorchs():
    def lrs(optim_module, param):
        optimizer = optim_module.SGD([param], lr=0.1)
        schedules = [
            optim_module.lr_scheduler.StepLR(optimizer, 4, gamma=0.5),
            optim_module.lr_scheduler.ExponentialLR(optimizer, gamma=0.9),
        ]
        out = []
        for _ in range(20):
            optimizer.step()
            for s in schedules:
                s.step()
            out.append(optimizer.param_groups[0]["lr"])
        return out

    ours = lrs(tg.optim, Parameter(np.zeros(1)))
    theirs = lrs(torch.optim, torch.zeros(1, requires_grad=True))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_a_schedule_resumes_from_its_state_dict():
    p = Parameter(np.zeros(1))
    optimizer = tg.optim.SGD([p], lr=0.1)
    schedule = tg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=6)
    for _ in range(4):
        schedule.step()
    saved_schedule, saved_optimizer = schedule.state_dict(), optimizer.state_dict()
    expected = []
    for _ in range(4):
        schedule.step()
        expected.append(schedule.get_last_lr())
    optimizer = tg.optim.SGD([p], lr=0.1)
    optimizer.load_state_dict(saved_optimizer)
    schedule = tg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=6)  # epoch 0 keeps the loaded rate
    schedule.load_state_dict(saved_schedule)
    resumed = []
    for _ in range(4):
        schedule.step()
        resumed.append(schedule.get_last_lr())
    assert resumed == expected


def test_bad_schedule_options_are_named():
    optimizer = tg.optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive int, got 0"):
        tg.optim.lr_scheduler.StepLR(optimizer, step_size=0)
    with pytest.raises(ValueError, match="LambdaLR: got 2 functions for 1 parameter groups"):
        tg.optim.lr_scheduler.LambdaLR(optimizer, [lambda e: 1.0, lambda e: 1.0])
    with pytest.raises(ValueError, match="ReduceLROnPlateau: factor must be < 1.0, got 2"):
        tg.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=2)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'lowest'"):
        tg.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="lowest")
    with pytest.raises(KeyError, match="resuming at last_epoch=4 needs 'initial_lr' in parameter group 0"):
        tg.optim.lr_scheduler.ExponentialLR(tg.optim.SGD([Parameter(np.zeros(1))]), 0.9, last_epoch=4)


# ---------------------------------------------------------------- in-place writes are counted


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_every_optimizer_counts_its_writes(name):
    w = Parameter(np.array([1.0, -2.0]))
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    getattr(tg.optim, name)([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="was changed after the op saved it"):
        loss.backward()


def test_init_functions_count_their_writes():
    w = Parameter(np.ones((2, 2)))
    loss = (w * w).sum()
    tg.nn.init.xavier_uniform_(w)
    with pytest.raises(RuntimeError, match="was changed after the op saved it"):
        loss.backward()


def test_a_step_between_two_backwards_through_one_graph_is_an_error():
    w = Parameter(np.array([1.0, -2.0]))
    loss = (w * w).sum()  # saves w's values for backward
    loss.backward(retain_graph=True)
    optimizer = tg.optim.SGD([w], lr=0.1)
    optimizer.step()
    with pytest.raises(RuntimeError, match=r"was changed after the op saved it for backward \(version 0, now 1\)"):
        loss.backward()


def test_each_step_counts_one_write_per_updated_parameter():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    optimizer = tg.optim.Adam([a, b])
    a.grad = np.ones(2)
    start_a, start_b = a._version, b._version
    optimizer.step()
    optimizer.step()
    assert (a._version - start_a, b._version - start_b) == (2, 0)
