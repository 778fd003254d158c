"""Command line: `tinygrad-rnn demo | train | predict | graph`.

Errors in arguments or data print one line to stderr and return exit code 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from . import checkpoint, viz
from .autograd import no_grad
from .compare import compare_gradients, format_comparison
from .nn import functional as F
from .reference.sentiment import sentiment_bptt
from .tasks import TASKS
from .tasks.common import build_model, model_sizes
from .tensor import Tensor

SENTIMENT_MAPPING = {"Wxh": ("rnn.weight_ih_l0", None), "Whh": ("rnn.weight_hh_l0", None),
                     "bh": ("rnn.bias_ih_l0", "flatten"), "Why": ("head.weight", None),
                     "by": ("head.bias", "flatten")}
GRADIENT_TOLERANCE = 1e-10


class UsageError(Exception):
    """A problem with the arguments or the data, reported without a traceback."""


def _print_metrics(metrics: dict, seconds: float) -> None:
    for name, value in metrics.items():
        shown = f"{value:.6g}" if isinstance(value, float) else value
        print(f"{name}: {shown}")
    print(f"seconds: {seconds:.2f}")


def sentiment_gradient_check(model, text: str, label: bool) -> dict:
    """Autograd's gradients of one phrase's loss against reference.sentiment_bptt's."""
    sentiment = TASKS["sentiment"]
    vocab = sentiment.vocabulary()
    inputs = sentiment.encode(vocab, text)
    params = {"Wxh": model.rnn.weight_ih_l0.data, "Whh": model.rnn.weight_hh_l0.data,
              "bh": (model.rnn.bias_ih_l0.data + model.rnn.bias_hh_l0.data)[:, None],
              "Why": model.head.weight.data, "by": model.head.bias.data[:, None]}
    manual = sentiment_bptt(inputs[0], int(label), params).grads
    model.zero_grad()
    F.cross_entropy(model(Tensor(inputs)), np.array([int(label)])).backward()
    return compare_gradients(manual, model, SENTIMENT_MAPPING)


def _graph_of(model, inputs, target, loss_fn, path) -> Path:
    loss = loss_fn(model(Tensor(inputs)), target)
    return viz.render(viz.draw_graph(loss, names=model), path)


def demo(args) -> int:
    """Train the sentiment RNN, check its gradients against BPTT by hand, draw its loss and graph."""
    sentiment = TASKS["sentiment"]
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--out {out}: cannot create the directory ({error.strerror})") from error
    config = sentiment.Config(epochs=30 if args.quick else 1000)
    result = sentiment.run(config)
    print(f"sentiment RNN, {result.metrics['epochs']} epochs in {result.seconds:.1f} s: "
          f"train accuracy {result.metrics['train_accuracy']:.0%}, "
          f"test accuracy {result.metrics['test_accuracy']:.0%}")
    text, label = "i am not happy", False
    comparison = sentiment_gradient_check(result.model, text, label)
    print(f"\nautograd vs hand-derived BPTT (document 003, corrected) on {text!r}:")
    print(format_comparison(comparison))
    worst = max(row["max_abs_diff"] for row in comparison.values())
    if not worst < GRADIENT_TOLERANCE:
        print(f"gradient check failed: max abs diff {worst:.3e} >= {GRADIENT_TOLERANCE:g}", file=sys.stderr)
        return 1
    result.history.plot(out / "loss.png", title="sentiment: training loss per epoch")
    vocab = sentiment.vocabulary()
    graph = _graph_of(result.model, sentiment.encode(vocab, text), np.array([int(label)]),
                      F.cross_entropy, out / "rnn_graph.svg")
    print(f"\nwrote {out / 'loss.png'} and {graph}")
    return 0


def _config(task: str, args):
    module = TASKS[task]
    fields = {field.name for field in dataclasses.fields(module.Config)}
    values = {name: getattr(args, name) for name in ("epochs", "hidden", "lr", "init", "seed", "cell")
              if getattr(args, name, None) is not None}
    if getattr(args, "csv", None) is not None:
        if "csv" not in fields:
            raise UsageError(f"--csv: the {task} task does not read CSV files")
        values["csv"] = args.csv
        values["date_column"] = args.date_column
        if args.target_column is not None:
            values["target_column"] = args.target_column
        if args.feature_columns is not None and "feature_columns" in fields:
            values["feature_columns"] = tuple(name.strip() for name in args.feature_columns.split(","))
    return module.Config(**values)


def train(args) -> int:
    """Train one task with the given options and print its metrics."""
    result = TASKS[args.task].run(_config(args.task, args), progress=not args.quiet)
    _print_metrics(result.metrics, result.seconds)
    if args.save:
        checkpoint.save(result.model, args.save)
        print(f"saved {args.save}")
    if args.plot:
        result.history.plot(args.plot, title=f"{args.task}: loss per epoch")
        print(f"wrote {args.plot}")
    return 0


def _load_model(args):
    state = checkpoint.load_state_dict(args.checkpoint)
    sizes = model_sizes(state)
    config = dataclasses.replace(_config(args.task, args), hidden=sizes["hidden"], cell=sizes["cell"])
    module = TASKS[args.task]
    if args.task in ("sentiment", "weather"):
        model = module.make_model(config, sizes["input_size"])
    else:
        model = module.make_model(config)
    checkpoint.load(args.checkpoint, model)
    return module, config, model


def predict(args) -> int:
    """Print a saved model's predictions: on --text for sentiment, else on validation windows."""
    module, config, model = _load_model(args)
    model.eval()
    if args.task == "sentiment":
        if not args.text:
            raise UsageError("predict --task sentiment needs --text")
        vocab = module.vocabulary()
        if any(word not in vocab for word in args.text.split()):
            unknown = [word for word in args.text.split() if word not in vocab]
            raise UsageError(f"unknown word {unknown[0]!r}; known words: {' '.join(vocab.words)}")
        negative, positive = module.predict(model, vocab, args.text)
        print(f"{args.text!r}: {'positive' if positive > negative else 'negative'} "
              f"(p(positive) = {positive:.4f})")
        return 0
    if args.task == "weather":
        windows = module.data(config).valid
    else:
        windows = module.data(config)[1]
    with no_grad():
        predictions = model(Tensor(windows.inputs)).data
    shown = min(args.count, len(predictions))
    print("prediction  target  persistence")
    for index in range(shown):
        print(f"{predictions[index].ravel()[-1]:10.4f}  {windows.targets[index].ravel()[-1]:6.4f}  "
              f"{windows.persistence[index].ravel()[-1]:11.4f}")
    print(f"validation MSE: {np.mean((predictions - windows.targets) ** 2):.6g} "
          f"(persistence {np.mean((windows.persistence - windows.targets) ** 2):.6g}, "
          f"{len(predictions)} windows)")
    return 0


def graph(args) -> int:
    """Draw the unrolled graph of one window's loss for a freshly initialised model."""
    if args.steps < 1:
        raise UsageError(f"--steps must be at least 1, got {args.steps}")
    if args.task == "sentiment":
        module = TASKS["sentiment"]
        vocab = module.vocabulary()
        words = ("i am not very happy".split() * args.steps)[:args.steps]
        model = module.make_model(module.Config(hidden=args.hidden or 4), len(vocab))
        inputs, target, loss_fn = module.encode(vocab, " ".join(words)), np.array([0]), F.cross_entropy
    else:
        rng = np.random.default_rng(0)
        sizes = {"sine": 1, "temperature": 1, "weather": 3}
        model = build_model(sizes[args.task], args.hidden or 4, 1, rng=rng,
                                          many_to_many=args.task == "weather")
        inputs = rng.standard_normal((1, args.steps, sizes[args.task]))
        target = np.zeros((1, args.steps, 1) if args.task == "weather" else (1, 1))
        loss_fn = F.mse_loss
    path = _graph_of(model, inputs, target, loss_fn, args.output)
    print(f"wrote {path}")
    return 0


def _data_options(parser) -> None:
    parser.add_argument("--csv", help="read a CSV file instead of the bundled Seattle weather")
    parser.add_argument("--date-column", default="date")
    parser.add_argument("--feature-columns", help="comma-separated input columns (weather)")
    parser.add_argument("--target-column", help="column to predict")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="tinygrad-rnn", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run_demo = commands.add_parser("demo", help="sentiment RNN, gradient check, loss plot and graph")
    run_demo.add_argument("--out", default=".", help="directory for loss.png and rnn_graph.svg")
    run_demo.add_argument("--quick", action="store_true", help="30 epochs instead of up to 1000")
    run_demo.set_defaults(handler=demo)

    run_train = commands.add_parser("train", help="train one task and print its metrics")
    run_train.add_argument("task", choices=sorted(TASKS))
    run_train.add_argument("--epochs", type=int)
    run_train.add_argument("--hidden", type=int)
    run_train.add_argument("--lr", type=float)
    run_train.add_argument("--init", choices=("uniform", "random", "xavier", "he"))
    run_train.add_argument("--seed", type=int)
    run_train.add_argument("--cell", choices=("rnn", "lstm", "gru"))
    _data_options(run_train)
    run_train.add_argument("--save", help="write the trained weights to this .npz file")
    run_train.add_argument("--plot", help="write the loss curves to this image")
    run_train.add_argument("--quiet", action="store_true", help="no progress bar")
    run_train.set_defaults(handler=train)

    run_predict = commands.add_parser("predict", help="predictions of a saved model")
    run_predict.add_argument("--task", required=True, choices=sorted(TASKS))
    run_predict.add_argument("--checkpoint", required=True)
    run_predict.add_argument("--text", help="phrase to classify (sentiment)")
    run_predict.add_argument("--count", type=int, default=10, help="validation windows to print")
    _data_options(run_predict)
    run_predict.set_defaults(handler=predict)

    run_graph = commands.add_parser("graph", help="draw the unrolled graph of one window")
    run_graph.add_argument("--task", default="sine", choices=sorted(TASKS))
    run_graph.add_argument("--steps", type=int, default=5)
    run_graph.add_argument("--hidden", type=int, help="hidden size (default 4)")
    run_graph.add_argument("-o", "--output", default="rnn.svg", help=".svg or .png")
    run_graph.set_defaults(handler=graph)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        return args.handler(args)
    except (UsageError, ValueError, TypeError, OSError) as error:
        print(f"tinygrad-rnn: error: {error}", file=sys.stderr)
    except KeyError as error:
        print(f"tinygrad-rnn: error: {error.args[0] if error.args else error}", file=sys.stderr)
    return 2
