"""Command line: `tinygrad-rnn demo | train | predict | graph`.

Every argument is checked before any work starts. A bad argument, data file or checkpoint
prints one line to stderr and exits with code 2; a run that fails (a NaN or infinite loss, a
failed gradient check, a renderer that fails) exits with code 1. Files are written only at the
end of a run that succeeded, each whole or not at all (see `staging`): a failed run leaves every
file as it was. Only the library's own errors are reported this way: any other exception is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import sys
from pathlib import Path

import numpy as np

from . import checkpoint, viz
from .compare import compare_gradients, format_comparison
from .data.datasets import FILL_MISSING
from .data.text import words_of
from .errors import DataError, MissingValueError, NonFiniteLossError, TinygradRNNError
from .jit import eager_steps
from .nn import functional as F
from .reference.sentiment import sentiment_bptt
from .staging import staged, writable_target
from .tasks import TASKS
from .tasks.common import CELLS, INIT_SCHEMES, MAX_HIDDEN, outputs
from .tensors import Tensor

PROG = "tinygrad-rnn"
GRADIENT_TOLERANCE = 1e-10
CSV_TASKS = ("temperature", "weather")
CSV_OPTIONS = ("csv", "date_column", "feature_columns", "target_column", "fill_missing")
GRAPH_FORMATS = ("svg", "png", "pdf")  # pdf only with a renderer that writes it (Graphviz's own dot)
MAX_GRAPH_STEPS = 10_000
DEFAULT_COUNT = 10
DEMO_FILES = ("loss.png", "rnn_graph.svg")  # what demo writes into --out
LIBRARY_ERRORS = (TinygradRNNError, checkpoint.CheckpointError)


class UsageError(TinygradRNNError, ValueError):
    """A bad command-line argument; the message starts with the option it names."""


# ------------------------------------------------------------------------------- argument types


def _positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def _size(most: int):
    """An argument type: an integer from 1 to `most` (a size whose arrays are allocated)."""

    def size(text: str) -> int:
        value = _positive_int(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"must be at most {most}, got {text}")
        return value

    return size


def _non_negative_int(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _column_name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a column, got an empty name")
    return text.strip()


def _column_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"must be comma-separated column names, got {text!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"names {', '.join(repeated)} more than once")
    return names


# ------------------------------------------------------------------------------- checks before work


def _format_of(path) -> str:
    """The file format a path's suffix names, in lower case without the dot ("svg")."""
    return Path(path).suffix.lstrip(".").lower()


def _output_file(option: str, path: str, formats=None) -> None:
    """Raise UsageError unless `path` can be written (see staging.writable_target) and, when
    `formats` is given, its suffix names one of them."""
    try:
        writable_target(path, f"{option} {path}")
    except OSError as error:
        # strerror is the message alone; str() of an error with an errno (ELOOP) starts "[Errno 40]"
        raise UsageError(error.strerror or str(error)) from None
    suffix = Path(path).suffix
    if formats is not None and _format_of(path) not in formats:
        raise UsageError(
            f"{option} {path}: unknown format {suffix or '(no suffix)'}; "
            f"use one of {', '.join('.' + name for name in formats)}"
        )


def _same_file(first: str, second: str) -> bool:
    """Whether two paths name one file: the same path once symlinks and .. are resolved, or
    (both existing) one file by two hard links."""
    if os.path.realpath(first) == os.path.realpath(second):
        return True
    return os.path.exists(first) and os.path.exists(second) and os.path.samefile(first, second)


def _output_folder(option: str, path: str) -> None:
    """Raise UsageError unless `path` is a writable folder or can be created as one."""
    folder = Path(path).absolute()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {path}: is a file, not a folder")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {path}: {existing} is a file, so the folder cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: the folder {existing} is not writable")


def _input_file(option: str, path: str) -> None:
    if Path(path).is_dir():
        raise UsageError(f"{option} {path}: is a folder, not a file")
    if not Path(path).is_file():
        raise UsageError(f"{option} {path}: no such file")


def _plot_formats() -> tuple[str, ...]:
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple(sorted(FigureCanvasBase.get_supported_filetypes()))


def _plot_format_writable(option: str, path: str) -> None:
    """Raise UsageError unless matplotlib writes the format `path` names here: a tiny figure with
    one label is saved in memory first (.pgf, for one, needs a LaTeX program)."""
    import io

    from matplotlib.figure import Figure

    output_format = _format_of(path)
    figure = Figure(figsize=(1, 1))
    figure.text(0.5, 0.5, "0")
    try:
        figure.savefig(io.BytesIO(), format=output_format, dpi=10)
    except Exception as error:  # whatever the format's writer needs and lacks
        problem = _one_line(error)
        raise UsageError(f"{option} {path}: matplotlib cannot write .{output_format} here: {problem}") from None


def _check_data_options(args, task: str) -> None:
    """Options that read a CSV apply to the CSV tasks only, and need --csv."""
    given = [name for name in CSV_OPTIONS if getattr(args, name) is not None]
    if task not in CSV_TASKS:
        if given:
            raise UsageError(
                f"--{given[0].replace('_', '-')}: the {task} task reads no CSV file; only {' and '.join(CSV_TASKS)} do"
            )
        return
    if args.csv is None:
        if given:
            raise UsageError(f"--{given[0].replace('_', '-')} needs --csv (the bundled Seattle data has fixed columns)")
        return
    _input_file("--csv", args.csv)
    if task == "temperature" and args.feature_columns is not None:
        if len(args.feature_columns) != 1:
            raise UsageError(
                f"--feature-columns: the temperature task reads one series, got "
                f"{len(args.feature_columns)} columns ({', '.join(args.feature_columns)})"
            )
        if args.target_column is not None and args.target_column != args.feature_columns[0]:
            raise UsageError(
                f"--feature-columns {args.feature_columns[0]} differs from --target-column "
                f"{args.target_column}: the temperature task predicts the next value of "
                "the series it reads"
            )


def _check_train(args) -> None:
    _check_data_options(args, args.task)
    if args.batch_size is not None and args.task != "sentiment":
        raise UsageError(f"--batch-size: only the sentiment task trains on batches of phrases, not {args.task}")
    if args.save is not None:
        _output_file("--save", args.save)
    if args.plot is not None:
        _output_file("--plot", args.plot, _plot_formats())
    if args.save is not None and args.plot is not None and _same_file(args.save, args.plot):
        raise UsageError(f"--plot {args.plot}: the same file as --save {args.save}")
    for option, path in (("--save", args.save), ("--plot", args.plot)):
        if path is not None and args.csv is not None and _same_file(path, args.csv):
            raise UsageError(f"{option} {path}: the same file as --csv {args.csv}, which it would overwrite")
    if args.plot is not None:
        _plot_format_writable("--plot", args.plot)


def _check_predict(args) -> None:
    _input_file("--checkpoint", args.checkpoint)
    _check_data_options(args, args.task)
    if args.task == "sentiment":
        if args.count is not None:
            raise UsageError("--count: the sentiment task has no windows to list; use --text")
        if args.text is not None and not words_of(args.text):
            raise UsageError(f"--text {args.text!r}: holds no words")
    elif args.text is not None:
        raise UsageError(f"--text: only the sentiment task classifies text, not {args.task}")


def _check_graph(args) -> None:
    """-o must name a format of GRAPH_FORMATS that the renderer lists (one that lists none is tried)."""
    program = viz.dot_program()
    listed = viz.writable_formats(program)
    writable = tuple(name for name in GRAPH_FORMATS if listed is None or name in listed)
    output_format = _format_of(args.output)
    if output_format in GRAPH_FORMATS and output_format not in writable:
        hint = " (Graphviz's own dot does)" if program == viz.pure_dot_program() else ""
        raise UsageError(
            f"-o/--output {args.output}: {Path(program).name} does not write .{output_format}{hint}; "
            f"use one of {', '.join('.' + name for name in writable)}"
        )
    _output_file("-o/--output", args.output, writable)


def _check_demo(args) -> None:
    """--out must be a folder that is or can be made; the files demo writes into it must be writable."""
    _output_folder("--out", args.out)
    if Path(args.out).is_dir():
        for name in DEMO_FILES:
            _output_file("--out", os.path.join(args.out, name))


# ------------------------------------------------------------------------------- writing at the end


def _write_outputs(files: dict, last=None) -> None:
    """Write each {path: writer(temporary_path, format)} under a temporary name beside its target
    (the format is the target's suffix), then call `last()` (an atomic save of its own), then
    rename every file onto its target; on any failure the temporaries are removed, so a failed
    write leaves every target as it was."""
    with contextlib.ExitStack() as stack:
        for path, writer in files.items():
            writer(stack.enter_context(staged(path)), _format_of(path))
        if last is not None:
            last()


# ------------------------------------------------------------------------------- subcommands


def _print_metrics(metrics: dict, seconds: float | None = None) -> None:
    """One "name: value" line per metric; None (an epoch never reached, as epoch_100) reads "not reached"."""
    for name, value in metrics.items():
        shown = f"{value:.6g}" if isinstance(value, float) else "not reached" if value is None else value
        print(f"{name}: {shown}")
    if seconds is not None:
        print(f"seconds: {seconds:.2f}")


def sentiment_gradient_check(model, text: str, label: bool) -> dict:
    """Autograd's gradients of one phrase's loss against reference.sentiment_bptt's."""
    sentiment = TASKS["sentiment"]
    vocab = sentiment.vocabulary()
    inputs = sentiment.encode(vocab, text)
    manual = sentiment_bptt(inputs[0], int(label), sentiment.reference_parameters(model)).grads
    model.zero_grad()
    F.cross_entropy(model(Tensor(inputs)), np.array([int(label)])).backward()
    return compare_gradients(manual, model, sentiment.REFERENCE_MAPPING)


def _graph_of(model, inputs, target, loss_fn, path, collapse=None, format=None) -> Path:
    loss = loss_fn(model(Tensor(inputs)), target)
    return viz.render(viz.draw_graph(loss, names=model, collapse=collapse), path, format=format)


def demo(args) -> int:
    """Train the sentiment RNN, check its gradients against BPTT by hand, draw its loss and graph."""
    sentiment = TASKS["sentiment"]
    config = sentiment.Config(epochs=30 if args.quick else 1000)
    result = sentiment.run(config, progress=None)  # a bar on a terminal, as every task shows
    steps = "eager training steps (--eager)" if args.eager else "training steps compiled by jit"
    print(
        f"sentiment RNN, {result.metrics['epochs']} epochs ({steps}) in {result.seconds:.1f} s: "
        f"train accuracy {result.metrics['train_accuracy']:.0%}, "
        f"test accuracy {result.metrics['test_accuracy']:.0%}"
    )
    text, label = "i am not happy", False
    comparison = sentiment_gradient_check(result.model, text, label)
    print(f"\nautograd vs hand-derived BPTT (after Victor Zhou's RNN introduction, corrected) on {text!r}:")
    print(format_comparison(comparison))
    worst = max(row["max_abs_diff"] for row in comparison.values())
    if not worst < GRADIENT_TOLERANCE:
        print(
            f"{PROG} demo: gradient check failed: max abs diff {worst:.3e} >= {GRADIENT_TOLERANCE:g}; nothing written",
            file=sys.stderr,
        )
        return 1
    out = Path(args.out)
    created = [folder for folder in (out.absolute(), *out.absolute().parents) if not folder.exists()]
    out.mkdir(parents=True, exist_ok=True)
    vocab = sentiment.vocabulary()
    loss_plot, graph = (out / name for name in DEMO_FILES)
    try:
        _write_outputs(
            {
                loss_plot: lambda path, format: result.history.plot(
                    path, title="sentiment: training loss per epoch", format=format
                ),
                graph: lambda path, format: _graph_of(
                    result.model,
                    sentiment.encode(vocab, text),
                    np.array([int(label)]),
                    F.cross_entropy,
                    path,
                    format=format,
                ),
            }
        )
    except BaseException:
        for folder in created:  # innermost first; each is empty again
            folder.rmdir()
        raise
    print(f"\nwrote {loss_plot} and {graph}")
    return 0


def _config(task: str, args):
    """The task's Config: its defaults, replaced by the options given."""
    module = TASKS[task]
    fields = {field.name for field in dataclasses.fields(module.Config)}
    values = {
        name: getattr(args, name)
        for name in ("epochs", "hidden", "lr", "init", "seed", "cell", "batch_size")
        if getattr(args, name, None) is not None
    }
    values.update(_data_values(args, fields))
    return module.Config(**values)


def _data_values(args, fields) -> dict:
    """The CSV options given, as Config fields (temperature's one feature column is its series)."""
    values = {
        name: getattr(args, name) for name in CSV_OPTIONS if getattr(args, name, None) is not None and name in fields
    }
    if args.feature_columns is not None and "feature_columns" not in fields:
        values["target_column"] = args.feature_columns[0]
    return values


def train(args) -> int:
    """Train one task with the given options, print its metrics, then write --save and --plot.

    NumPy's overflow and invalid-value warnings are silenced: a loss they would lead to, NaN or
    infinite, stops training with one line saying where.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        result = TASKS[args.task].run(_config(args.task, args), progress=not args.quiet)
    _print_metrics(result.metrics, result.seconds)
    plots = {}
    if args.plot:
        plots[args.plot] = lambda path, format: result.history.plot(
            path, title=f"{args.task}: loss per epoch", format=format
        )
    save = None
    if args.save:

        def save():
            checkpoint.save(result.model, args.save, metadata=result.metadata)

    _write_outputs(plots, last=save)
    for path in (args.save, args.plot):
        if path:
            print(f"wrote {path}")
    return 0


def _from_checkpoint(args):
    """(model with the checkpoint's weights, data) of the checkpoint's task: the vocabulary for
    sentiment, else the task's windows, scaled as in training."""
    metadata = checkpoint.read_metadata(args.checkpoint, task=args.task)
    module = TASKS[args.task]
    try:
        if args.task == "sentiment":
            config, model, fitted = module.from_metadata(metadata)
        else:
            fields = {field.name for field in dataclasses.fields(module.Config)}
            config, model, fitted = module.from_metadata(metadata, **_data_values(args, fields))
    except DataError as error:
        raise checkpoint.CheckpointError(
            args.checkpoint, f"has metadata the {args.task} task cannot use: {error}"
        ) from error
    checkpoint.load(args.checkpoint, model)
    if args.task == "sentiment":
        return model, fitted
    return model, module.data(config) if args.task == "sine" else module.data(config, fitted)


def predict(args) -> int:
    """A saved model's predictions (on --text for sentiment, else on validation windows) and the
    held-out metrics under the names and scale `train` prints."""
    model, data = _from_checkpoint(args)
    module = TASKS[args.task]
    if args.task == "sentiment":
        if args.text is not None:
            unknown = [word for word in words_of(args.text) if word not in data]
            if unknown:
                raise UsageError(
                    f"--text: unknown word {unknown[0]!r}; the checkpoint's vocabulary holds {' '.join(data.words)}"
                )
            negative, positive = module.predict(model, data, args.text)
            print(f"{args.text!r}: {'positive' if positive > negative else 'negative'} (p(positive) = {positive:.4f})")
        _print_metrics(module.evaluate(model, data))
        return 0
    windows = data.valid if args.task == "weather" else data.validation if args.task == "sine" else data.test
    predictions = outputs(model, windows.inputs)
    count = DEFAULT_COUNT if args.count is None else args.count
    print("prediction  target  persistence")
    for index in range(min(count, len(predictions))):
        print(
            f"{predictions[index].ravel()[-1]:10.4f}  {windows.targets[index].ravel()[-1]:6.4f}  "
            f"{windows.persistence[index].ravel()[-1]:11.4f}"
        )
    print(f"({len(predictions)} validation windows)")
    _print_metrics(module.evaluate(model, data))
    return 0


def graph(args) -> int:
    """Draw the unrolled graph of one window's loss for the task's own model (its hidden size,
    biases and read-out), freshly initialised with the task's seed."""
    module = TASKS[args.task]
    config = module.Config(**({"hidden": args.hidden} if args.hidden else {}))
    if args.task == "sentiment":
        vocab = module.vocabulary()
        words = (["i", "am", "not", "very", "happy"] * args.steps)[: args.steps]
        model = module.make_model(config, len(vocab))
        inputs, target, loss_fn = module.encode(vocab, " ".join(words)), np.array([0]), F.cross_entropy
    else:
        model = module.make_model(config)
        inputs = np.random.default_rng(0).standard_normal((1, args.steps, model.rnn.input_size))
        target = np.zeros((1, args.steps, 1) if model.many_to_many else (1, 1))
        loss_fn = F.mse_loss
    path = _graph_of(model, inputs, target, loss_fn, args.output, collapse=args.collapse)
    print(f"wrote {path}")
    return 0


# ------------------------------------------------------------------------------- the parser

EAGER_HELP = (
    "run each training step eagerly, op by op, instead of as the program jit compiles "
    "from it (the same numbers, slower)"
)


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr (exit code 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Appends "(default: ...)" to an option's help unless the help already names its default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if action.default is None:
            return text
        shown = "off" if action.default is False else "%(default)s"
        return f"{text} (default: {shown})"


def _task_defaults(name: str) -> str:
    shown = ", ".join(f"{task} {getattr(TASKS[task].Config(), name)}" for task in sorted(TASKS))
    return f"default: the task's own, {shown}"


def _data_options(parser) -> None:
    group = parser.add_argument_group("CSV data (temperature and weather only; the options after --csv need it)")
    group.add_argument(
        "--csv",
        metavar="FILE",
        help="read this CSV file (header row, one row per day, dates increasing) "
        "instead of the bundled Seattle weather (default: Seattle)",
    )
    group.add_argument(
        "--date-column", type=_column_name, metavar="NAME", help="the CSV column holding the dates (default: date)"
    )
    group.add_argument(
        "--feature-columns",
        type=_column_list,
        metavar="A,B,...",
        help="comma-separated input columns; temperature takes one, the series it "
        "reads (default: weather temp_max,temp_min,precipitation; temperature "
        "the target column)",
    )
    group.add_argument(
        "--target-column",
        type=_column_name,
        metavar="NAME",
        help="the column to predict (default: temperature temp_min, weather temp_max)",
    )
    group.add_argument(
        "--fill-missing",
        choices=FILL_MISSING,
        help="what an empty or NA value does: 'error' stops naming its line and "
        "column, 'previous' carries the value above it forward (default: error)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser for every subcommand."""
    parser = _Parser(prog=PROG, description=__doc__.splitlines()[0], formatter_class=_HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, summary: str, handler, check):
        sub = commands.add_parser(name, help=summary, description=summary, formatter_class=_HelpFormatter)
        sub.set_defaults(handler=handler, check=check)
        return sub

    run_demo = command(
        "demo",
        "train the sentiment RNN, check its gradients against hand-derived "
        "BPTT, and write its loss plot and unrolled graph",
        demo,
        _check_demo,
    )
    run_demo.add_argument(
        "--out",
        default=".",
        metavar="DIR",
        help="folder for loss.png and rnn_graph.svg, created (with missing parents) if it does not exist",
    )
    run_demo.add_argument("--quick", action="store_true", help="train 30 epochs instead of up to 1000")
    run_demo.add_argument("--eager", action="store_true", help=EAGER_HELP)

    run_train = command("train", "train one task and print its metrics", train, _check_train)
    run_train.add_argument("task", choices=sorted(TASKS), help="which document's task to train")
    run_train.add_argument(
        "--epochs", type=_positive_int, help=f"most passes over the training data ({_task_defaults('epochs')})"
    )
    run_train.add_argument(
        "--hidden",
        type=_size(MAX_HIDDEN),
        help=f"hidden size of the recurrent layer, at most {MAX_HIDDEN} ({_task_defaults('hidden')})",
    )
    run_train.add_argument("--lr", type=_learning_rate, help=f"learning rate, finite and > 0 ({_task_defaults('lr')})")
    run_train.add_argument(
        "--init", choices=INIT_SCHEMES, help="weight initialisation (default: the task's document's scheme)"
    )
    run_train.add_argument(
        "--seed",
        type=_non_negative_int,
        help=f"random seed for initialisation and shuffling ({_task_defaults('seed')})",
    )
    run_train.add_argument("--cell", choices=CELLS, help="recurrent cell (default: rnn)")
    run_train.add_argument(
        "--batch-size",
        type=_positive_int,
        help="sentiment only: phrases per update, zero-padded to the longest, each "
        "classified from its own last state (default: 1, one phrase per update)",
    )
    _data_options(run_train)
    run_train.add_argument(
        "--save",
        metavar="FILE",
        help="write the trained model and what predicting needs to this .npz file, "
        "in an existing folder (default: not saved)",
    )
    run_train.add_argument(
        "--plot",
        metavar="FILE",
        help="write the loss curves to this image (.png, .svg, .pdf, ...), in an existing folder (default: no plot)",
    )
    run_train.add_argument("--quiet", action="store_true", help="no progress bar")
    run_train.add_argument("--eager", action="store_true", help=EAGER_HELP)

    run_predict = command(
        "predict", "print a saved model's predictions and its held-out metrics", predict, _check_predict
    )
    run_predict.add_argument(
        "--task", required=True, choices=sorted(TASKS), help="the task the checkpoint was trained on (required)"
    )
    run_predict.add_argument(
        "--checkpoint", required=True, metavar="FILE", help="a .npz file written by `train --save` (required)"
    )
    run_predict.add_argument(
        "--text",
        help="phrase to classify, sentiment only; case and punctuation are ignored (default: none, only the metrics)",
    )
    run_predict.add_argument(
        "--count",
        type=_non_negative_int,
        help=f"validation windows to list, not for sentiment (default: {DEFAULT_COUNT})",
    )
    _data_options(run_predict)

    run_graph = command("graph", "draw the unrolled graph of one window", graph, _check_graph)
    run_graph.add_argument("--task", default="sine", choices=sorted(TASKS), help="whose model to draw")
    run_graph.add_argument(
        "--steps", type=_size(MAX_GRAPH_STEPS), default=5, help=f"time steps to unroll, at most {MAX_GRAPH_STEPS}"
    )
    run_graph.add_argument(
        "--hidden", type=_size(MAX_HIDDEN), help=f"hidden size, at most {MAX_HIDDEN} (default: the task's)"
    )
    run_graph.add_argument(
        "--collapse",
        type=_positive_int,
        metavar="K",
        help="draw only the first and last K steps, one node for the rest (default: every step drawn)",
    )
    run_graph.add_argument(
        "-o",
        "--output",
        default="rnn.svg",
        metavar="FILE",
        help="the picture, in an existing folder; its suffix gives the format "
        "(.svg or .png; .pdf too with Graphviz's own dot on PATH)",
    )
    return parser


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    where = f"{PROG} {args.command}"
    try:
        args.check(args)
        with eager_steps() if getattr(args, "eager", False) else contextlib.nullcontext():
            return args.handler(args)
    except (NonFiniteLossError, viz.RenderError) as error:
        print(f"{where}: {_one_line(error)}; nothing written", file=sys.stderr)
        return 1
    except MissingValueError as error:
        print(f"{where}: error: {_one_line(error)} (the option --fill-missing previous does that)", file=sys.stderr)
        return 2
    except LIBRARY_ERRORS as error:
        print(f"{where}: error: {_one_line(error)}", file=sys.stderr)
        return 2
