"""Training with compiled steps: the Trainer's default, the same run as eager, and eager_steps()."""

import numpy as np
import pytest

from tinygrad_rnn.errors import NonFiniteLossError
from tinygrad_rnn.jit import eager_steps
from tinygrad_rnn.models import SequenceModel
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.optim import Adam
from tinygrad_rnn.train import Trainer


def fit(jit: bool, cell: str = "lstm", epochs: int = 3):
    model = SequenceModel(2, 5, 1, cell=cell, rng=0)
    trainer = Trainer(
        model,
        F.mse_loss,
        Adam(model.parameters(), lr=0.01),
        batch_size=4,
        clip_norm=1.0,
        rng=1,
        progress=False,
        jit=jit,
    )
    rng = np.random.default_rng(2)
    inputs, targets = rng.standard_normal((10, 6, 2)), rng.standard_normal((10, 1))
    history = trainer.fit(inputs, targets, epochs=epochs, validation=(inputs, targets))
    return model, trainer, history


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_the_trainer_compiles_its_steps_by_default_and_trains_as_eager_does(cell):
    eager_model, eager_trainer, eager_history = fit(jit=False, cell=cell)
    jit_model, jit_trainer, jit_history = fit(jit=True, cell=cell)
    assert eager_trainer.compiled_step is None
    assert jit_trainer.compiled_step.traces == 2  # batches of 4 and the last batch of 2
    np.testing.assert_allclose(jit_history.train_loss, eager_history.train_loss, rtol=1e-10)
    np.testing.assert_allclose(jit_history.val_loss, eager_history.val_loss, rtol=1e-10)
    for (name, p), q in zip(eager_model.named_parameters(), jit_model.parameters()):
        np.testing.assert_allclose(q.data, p.data, rtol=1e-9, atol=1e-12, err_msg=name)


def test_eager_steps_switches_compiling_off():
    with eager_steps():
        _, trainer, _ = fit(jit=True, epochs=1)
    assert trainer.compiled_step.traces == 0


def test_a_nan_loss_still_stops_training_before_the_optimizer_steps():
    model = SequenceModel(2, 3, 1, cell="rnn", rng=0)
    trainer = Trainer(model, F.mse_loss, Adam(model.parameters(), lr=0.01), rng=1, progress=False)
    inputs, targets = np.ones((4, 5, 2)), np.ones((4, 1))
    trainer.fit(inputs, targets, epochs=1)
    before = [p.data.copy() for p in model.parameters()]
    targets[0, 0] = np.nan
    with pytest.raises(NonFiniteLossError), np.errstate(invalid="ignore"):
        trainer.fit(inputs, targets, epochs=1)
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, old)
