"""Document 003, a notebook following Victor Zhou's "An Introduction to Recurrent Neural
Networks": sentence sentiment from one-hot words, many-to-one, softmax cross-entropy.

The document's recipe is kept: hidden 64, weights N(0, 1e-3^2) (its randn / 1000), zero biases,
plain SGD at lr 2e-2, per-value clipping to [-1, 1], one sentence per update. Training stops
early once train and test accuracy are both 100%.

With batch_size B > 1 each update takes B phrases, zero-padded after their last word to the
longest one's length; each phrase is classified from its own last state h_{L_b - 1}, gathered
by index from the padded run (padding after a phrase cannot change its earlier states), and
the loss is the batch mean, so the gradient is the mean of the phrases' own gradients.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..autograd import no_grad
from ..data import Vocabulary, sentiment_data
from ..errors import DataError
from ..jit import jit
from ..nn import functional as F
from ..nn import init
from ..optim import SGD, clip_grad_value_
from ..random import as_generator
from ..tensors import Tensor
from ..train import History, check_finite_loss, progress_bar
from .common import (
    TaskResult,
    build_model,
    config_from_metadata,
    input_size_from_metadata,
    task_metadata,
)

NAME = "sentiment"


@dataclass
class SentimentConfig:
    """Document 003's defaults."""

    epochs: int = 1000
    hidden: int = 64
    lr: float = 2e-2
    clip: float = 1.0
    init: str | None = None
    seed: int = 0
    cell: str = "rnn"
    eval_every: int = 10
    stop_at_100: bool = True
    batch_size: int = 1


def vocabulary() -> Vocabulary:
    """The vocabulary of the training phrases (test phrases use only these words)."""
    return Vocabulary(sentiment_data()[0])


def encode(vocab: Vocabulary, text: str) -> np.ndarray:
    """One phrase as a (1, T, V) batch."""
    return vocab.encode(text)[None]


def padded_batch(vocab: Vocabulary, texts) -> tuple[np.ndarray, np.ndarray]:
    """Phrases as one (B, T_max, V) batch zero-padded after each phrase, and each phrase's last
    step index L_b - 1."""
    encoded = [vocab.encode(text) for text in texts]
    longest = max(len(words) for words in encoded)
    inputs = np.zeros((len(encoded), longest, len(vocab)))
    for row, words in enumerate(encoded):
        inputs[row, : len(words)] = words
    return inputs, np.array([len(words) - 1 for words in encoded], dtype=np.int64)


def batch_logits(model, inputs, last_steps) -> Tensor:
    """Logits (B, 2) of a padded batch, each from its phrase's own last hidden state."""
    output, _ = model.rnn(Tensor(inputs))
    return model.head(output[np.arange(len(last_steps)), last_steps])


def make_model(config: SentimentConfig, vocab_size: int, rng=None):
    """The RNN of document 003 with its randn / 1000 weights and zero biases (or `config.init`)."""
    rng = as_generator(rng if rng is not None else config.seed)
    model = build_model(vocab_size, config.hidden, 2, cell=config.cell, init_scheme=config.init, rng=rng)
    if config.init is None:
        for name, param in model.named_parameters():
            if name.rsplit(".", 1)[-1].startswith("bias"):
                init.zeros_(param)
            else:
                init.normal_(param, std=1e-3, generator=rng)
    return model


# document 003's gradient names -> the model's parameters, for compare_gradients ("flatten": a
# column of the document is the model's vector)
REFERENCE_MAPPING = {
    "Wxh": "rnn.weight_ih_l0",
    "Whh": "rnn.weight_hh_l0",
    "bh": ("rnn.bias_ih_l0", "flatten"),
    "Why": "head.weight",
    "by": ("head.bias", "flatten"),
}


def reference_parameters(model) -> dict:
    """The model's weights under document 003's names and in its column layout, for
    reference.sentiment_bptt. The layer's two biases always add up, so b_h is their sum (and
    each bias receives b_h's gradient)."""
    return {
        "Wxh": model.rnn.weight_ih_l0.data,
        "Whh": model.rnn.weight_hh_l0.data,
        "bh": (model.rnn.bias_ih_l0.data + model.rnn.bias_hh_l0.data)[:, None],
        "Why": model.head.weight.data,
        "by": model.head.bias.data[:, None],
    }


@no_grad()
def predict(model, vocab: Vocabulary, text: str) -> np.ndarray:
    """Softmax probabilities (negative, positive) for one phrase."""
    model.eval()
    return model(encode(vocab, text)).softmax(axis=-1).data[0]


def accuracy(model, vocab: Vocabulary, phrases: dict) -> float:
    """Share of phrases whose most probable class is their label."""
    hits = [bool(np.argmax(predict(model, vocab, text))) == label for text, label in phrases.items()]
    return float(np.mean(hits))


def evaluate(model, vocab: Vocabulary) -> dict:
    """Train and test accuracy, each a share in [0, 1]."""
    train, test = sentiment_data()
    return {"train_accuracy": accuracy(model, vocab, train), "test_accuracy": accuracy(model, vocab, test)}


def metadata(config: SentimentConfig, vocab: Vocabulary) -> dict:
    """What a checkpoint needs to rebuild the model and to encode new phrases."""
    return task_metadata(NAME, config, input_size=len(vocab), vocabulary=list(vocab.words))


def from_metadata(values: dict):
    """(config, untrained model, vocabulary) rebuilt from `metadata`'s output."""
    config = config_from_metadata(SentimentConfig, values)
    words = values.get("vocabulary")
    if not isinstance(words, list):
        raise DataError(f"checkpoint metadata: 'vocabulary' must be a list of words, got {type(words).__name__}")
    vocab = Vocabulary.from_words(words)
    size = input_size_from_metadata(values)
    if len(vocab) != size or len(words) != size:
        raise DataError(f"checkpoint metadata: the vocabulary lists {len(words)} words but the model reads {size}")
    return config, make_model(config, size), vocab


def run(config: SentimentConfig | None = None, progress: bool | None = False) -> TaskResult:
    """Train on the 66 training phrases; metrics: train/test accuracy and the epoch both hit 100%."""
    config = config or SentimentConfig()
    start = time.perf_counter()
    train, test = sentiment_data()
    vocab = Vocabulary(train)
    rng = as_generator(config.seed)
    model = make_model(config, len(vocab), rng)
    optimizer = SGD(model.parameters(), lr=config.lr)
    texts, labels = list(train), np.array([int(label) for label in train.values()])
    examples = [(encode(vocab, text), labels[i : i + 1]) for i, text in enumerate(texts)]

    @jit  # one compiled program per phrase length
    def train_step(inputs, target):
        loss = F.cross_entropy(model(Tensor(inputs)), target)
        loss.backward()
        return loss

    @jit  # one compiled program per padded batch shape (B, T_max)
    def batch_step(inputs, last_steps, target):
        loss = F.cross_entropy(batch_logits(model, inputs, last_steps), target)
        loss.backward()
        return loss

    history = History()
    first_perfect = None
    last_finite = None
    train_acc = test_acc = 0.0
    bar = progress_bar(config.epochs, progress)
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            total = 0.0
            order = rng.permutation(len(examples))
            for batch, first in enumerate(range(0, len(order), config.batch_size), start=1):
                indices = order[first : first + config.batch_size]
                optimizer.zero_grad()
                if config.batch_size == 1:
                    loss = train_step(*examples[indices[0]])
                else:
                    loss = batch_step(*padded_batch(vocab, [texts[i] for i in indices]), labels[indices])
                last_finite = check_finite_loss(loss.item(), epoch, batch, last_finite)
                clip_grad_value_(list(model.parameters()), config.clip)
                optimizer.step()
                total += last_finite * len(indices)
            history.train_loss.append(total / len(examples))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(train=f"{history.train_loss[-1]:.4g}", accuracy=f"{train_acc:.0%}/{test_acc:.0%}")
            if epoch % config.eval_every == 0 or epoch == config.epochs:
                train_acc, test_acc = accuracy(model, vocab, train), accuracy(model, vocab, test)
                if first_perfect is None and train_acc == 1.0 and test_acc == 1.0:
                    first_perfect = epoch
                    if config.stop_at_100:
                        history.stopped_early = epoch < config.epochs
                        break
    finally:
        if bar is not None:
            bar.close()
    metrics = {
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "epoch_100": first_perfect,
        "epochs": history.epochs,
    }
    return TaskResult(metrics, history, model, time.perf_counter() - start, metadata(config, vocab))


Config = SentimentConfig
