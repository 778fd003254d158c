"""The sentiment task on padded mini-batches: each phrase read from its own last state."""

import numpy as np

from tinygrad_rnn.cli import main
from tinygrad_rnn.data import sentiment_data
from tinygrad_rnn.jit import jit
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.tasks import sentiment
from tinygrad_rnn.tensors import Tensor

PHRASES = ["i am not happy", "good", "this is very good", "i am sad", "bad", "this is not very bad"]


def _model():
    config = sentiment.SentimentConfig(init="xavier", seed=3)
    return sentiment.make_model(config, len(sentiment.vocabulary()))


def _gradients(model) -> dict:
    return {name: param.grad.copy() for name, param in model.named_parameters()}


def _labels(texts):
    train, test = sentiment_data()
    return np.array([int({**train, **test}[text]) for text in texts])


def test_padded_batch_pads_after_each_phrase_and_points_at_its_last_word():
    vocab = sentiment.vocabulary()
    inputs, last_steps = sentiment.padded_batch(vocab, ["good", "i am not happy"])
    assert inputs.shape == (2, 4, len(vocab))
    assert last_steps.tolist() == [0, 3]
    np.testing.assert_array_equal(inputs[0, :1], vocab.encode("good"))
    np.testing.assert_array_equal(inputs[0, 1:], 0.0)
    np.testing.assert_array_equal(inputs[1], vocab.encode("i am not happy"))


def test_batch_gradient_is_the_mean_of_the_phrases_gradients():
    vocab = sentiment.vocabulary()
    labels = _labels(PHRASES)
    model = _model()
    singles = []
    for text, label in zip(PHRASES, labels):
        model.zero_grad()
        F.cross_entropy(model(Tensor(sentiment.encode(vocab, text))), label[None]).backward()
        singles.append(_gradients(model))
    inputs, last_steps = sentiment.padded_batch(vocab, PHRASES)
    assert len(set(last_steps.tolist())) > 2  # lengths really differ

    model.zero_grad()
    F.cross_entropy(sentiment.batch_logits(model, inputs, last_steps), labels).backward()
    batched = _gradients(model)
    for name, grad in batched.items():
        expected = np.mean([single[name] for single in singles], axis=0)
        assert np.abs(expected).max() > 1e-6, name  # a gradient that says something
        np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-12, err_msg=name)


def test_compiled_batch_step_follows_each_batch_own_lengths():
    """One program per padded shape: a second batch of the same shape, other lengths, reuses it
    and still gives the eager gradients."""
    vocab = sentiment.vocabulary()
    model = _model()

    def step(inputs, last_steps, target):
        loss = F.cross_entropy(sentiment.batch_logits(model, inputs, last_steps), target)
        loss.backward()
        return loss

    compiled = jit(step)
    for texts in (["this is very good", "bad", "i am sad"], ["good", "i am not happy", "this is not bad"]):
        inputs, last_steps = sentiment.padded_batch(vocab, texts)
        assert inputs.shape[:2] == (3, 4)
        model.zero_grad()
        step(inputs, last_steps, _labels(texts))
        eager = _gradients(model)
        model.zero_grad()
        compiled(inputs, last_steps, _labels(texts))
        for name, grad in _gradients(model).items():
            np.testing.assert_allclose(grad, eager[name], rtol=0, atol=1e-12, err_msg=name)
    assert compiled.traces == 1 and compiled.fallback_reason is None


def test_batched_run_reaches_high_train_accuracy():
    config = sentiment.SentimentConfig(batch_size=8, lr=0.2, init="xavier", epochs=40, eval_every=40)
    metrics = sentiment.run(config).metrics
    # reading every phrase at the padded last step instead stays near chance (about 0.5)
    assert metrics["train_accuracy"] >= 0.9
    assert metrics["epochs"] == 40


def test_batch_larger_than_the_data_is_one_batch():
    result = sentiment.run(sentiment.SentimentConfig(batch_size=1000, epochs=2))
    assert len(result.history.train_loss) == 2
    assert np.isfinite(result.history.train_loss).all()
    assert result.metadata["config"]["batch_size"] == 1000


def test_cli_batch_size_trains_and_zero_exits_2(capsys):
    assert main(["train", "sentiment", "--batch-size", "4", "--epochs", "2", "--quiet"]) == 0
    assert "train_accuracy:" in capsys.readouterr().out
    assert main(["train", "sentiment", "--batch-size", "0"]) == 2
    error = capsys.readouterr().err
    assert "--batch-size" in error and ">= 1" in error and "Traceback" not in error


def test_cli_batch_size_belongs_to_sentiment_only(capsys):
    assert main(["train", "sine", "--batch-size", "4"]) == 2
    error = capsys.readouterr().err
    assert "--batch-size" in error and "sentiment" in error
    assert len(error.strip().splitlines()) == 1
