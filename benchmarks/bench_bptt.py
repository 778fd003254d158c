"""How much does autograd cost? One Elman RNN training step, tinygrad_rnn (eager and jit) against hand-written BPTT.

One training step = forward + loss + backward of every parameter, float64, for nn.RNN(I, H)
(tanh, h_0 = 0) followed by nn.Linear(H, O) on the last hidden state, with MSE on the last step
(softmax cross-entropy for the sentiment config). Contenders, all given the same weights and data:

    hand-written   benchmarks/handwritten_elman.py: plain NumPy forward and BPTT (the baseline)
    eager          tinygrad_rnn: nn.RNN + nn.Linear + loss, then loss.backward()
    jit            the same step compiled by tinygrad_rnn.jit: one generated NumPy program
    torch nn.RNN   PyTorch's fused module            (when torch is installed)
    torch op loop  PyTorch ops, one Elman step at a time, as tinygrad_rnn records them
    JAX scan       jax.jit(jax.value_and_grad(...)) over a lax.scan forward   (when jax is installed)
    HIPS autograd  autograd.numpy, one Elman step at a time                    (when autograd is installed)

Every contender's loss and gradients are first checked against the hand-written ones (relative
1e-8). Timings are interleaved: each round runs every contender once, in a rotating order, and
the table gives the median over rounds after a warm-up, with the spread (the interquartile range
over the median). Peak memory is measured with tracemalloc. For jit, the script also prints the
first call's time (trace + generate + compile) and the program's length at two sequence lengths.
Before timing, the script steadies its process: one BLAS thread for every contender (--threads)
and, on glibc, malloc thresholds that keep freed memory in the process (STEADY_MALLOC). Settings
that only take effect at start-up are set by restarting the script once.

    python benchmarks/bench_bptt.py                     # all configs, all installed peers
    python benchmarks/bench_bptt.py --configs tiny,mid --repeats 10
    python benchmarks/bench_bptt.py --quick --markdown  # a fast smoke run, as a Markdown table
    python benchmarks/bench_bptt.py --profile long      # cProfile of tinygrad_rnn's step
    python benchmarks/bench_bptt.py --split long        # its time in the ops' NumPy work, and the rest
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import importlib.metadata
import importlib.util
import os
import platform
import pstats
import sys
import time
import tracemalloc
import types
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.handwritten_elman import PARAMETER_NAMES, elman_bptt, init_parameters
from tinygrad_rnn import Tensor, autograd, nn, ops

AGREEMENT_TOLERANCE = 1e-8


class Config(NamedTuple):
    """One benchmark shape: batch, sequence length, input, hidden and output sizes, and the loss."""

    batch: int
    steps: int
    inputs: int
    hidden: int
    outputs: int
    loss: str

    @property
    def shape_label(self) -> str:
        return f"{self.batch}, {self.steps}, {self.inputs}, {self.hidden}"


CONFIGS = {
    "tiny": Config(1, 7, 3, 4, 1, "mse"),
    "sentiment": Config(1, 4, 18, 64, 2, "cross_entropy"),
    "temps": Config(1, 1, 1, 256, 1, "mse"),
    "mid": Config(32, 50, 8, 64, 1, "mse"),
    "large": Config(64, 100, 32, 256, 1, "mse"),
    "long": Config(1, 2000, 1, 32, 1, "mse"),
}
MEMORY_CONFIGS = ("large", "long")
GROWTH_CONFIG, GROWTH_SHORT_STEPS, GROWTH_TARGET = "long", 200, 11.0
MEMORY_TARGET_CONFIG, MEMORY_TARGET = "large", 1.3
JAX_TARGET_CONFIGS = ("sentiment", "temps", "mid", "large")
JIT_TARGET = 1.3  # jit's step time over the hand-written step's, on every config
FIRST_CALL_TARGET, LINES_TARGET = 2.0, 200


class Problem(NamedTuple):
    """Weights (by PyTorch name), input x (T, B, I) and target (B, O) shared by every contender."""

    config: Config
    params: dict
    x: np.ndarray
    target: np.ndarray


def make_problem(config: Config, seed: int = 0) -> Problem:
    """Random weights as PyTorch draws them, standard-normal inputs (one-hot words for cross-entropy)
    and a standard-normal target (a one-hot class for cross-entropy)."""
    rng = np.random.default_rng(seed)
    params = init_parameters(rng, config.inputs, config.hidden, config.outputs)
    shape = (config.steps, config.batch)
    if config.loss == "cross_entropy":
        x = np.eye(config.inputs)[rng.integers(0, config.inputs, shape)]
        target = np.eye(config.outputs)[rng.integers(0, config.outputs, config.batch)]
    else:
        x = rng.standard_normal(shape + (config.inputs,))
        target = rng.standard_normal((config.batch, config.outputs))
    return Problem(config, params, x, target)


# ---------------------------------------------------------------- contenders


class ElmanModel(nn.Module):
    """tinygrad_rnn's model: rnn = nn.RNN(I, H), head = nn.Linear(H, O) on the last hidden state."""

    def __init__(self, inputs: int, hidden: int, outputs: int):
        super().__init__()
        self.rnn = nn.RNN(inputs, hidden)
        self.head = nn.Linear(hidden, outputs)


class HandWritten:
    """The baseline: benchmarks/handwritten_elman.py."""

    label = "hand-written"

    def __init__(self, problem: Problem):
        self.problem = problem
        self.result = None

    def step(self) -> float:
        p = self.problem
        self.result = elman_bptt(p.params, p.x, p.target, p.config.loss)
        return self.result.loss

    def gradients(self) -> dict:
        return self.result.grads


class TinygradRNN:
    """tinygrad_rnn, eager: nn.RNN + nn.Linear + loss, then backward through the recorded graph."""

    label = "eager"

    def __init__(self, problem: Problem):
        c = problem.config
        self.model = ElmanModel(c.inputs, c.hidden, c.outputs)
        self.model.load_state_dict(problem.params)
        self.x, self.target = problem.x, problem.target
        self.cross_entropy = c.loss == "cross_entropy"

    def loss_and_backward(self, x, target) -> Tensor:
        """The training step: forward, loss, backward; returns the loss."""
        model = self.model
        out, _ = model.rnn(x)
        y = model.head(out[-1])
        if self.cross_entropy:
            loss = -(y.log_softmax(-1) * target).sum(-1).mean()
        else:
            loss = ((y - target) ** 2).mean()
        loss.backward()
        return loss

    def step(self) -> float:
        self.model.zero_grad()
        return self.loss_and_backward(self.x, self.target).item()

    def gradients(self) -> dict:
        """Parameter gradients; a parameter the step never used (W_hh when T = 1) has gradient zero."""
        return {name: np.zeros_like(p.data) if p.grad is None else p.grad for name, p in self.model.named_parameters()}


class TinygradJit(TinygradRNN):
    """tinygrad_rnn, compiled: the same step through jit (its first call traces it)."""

    label = "jit"

    def __init__(self, problem: Problem):
        from tinygrad_rnn.jit import jit  # here, so that compare_commits.py can time revisions without jit

        super().__init__(problem)
        self.compiled = jit(self.loss_and_backward)

    def step(self) -> float:
        self.model.zero_grad()
        return self.compiled(self.x, self.target).item()


class TorchModule:
    """PyTorch's nn.RNN and nn.Linear."""

    label = "torch nn.RNN"
    package = "torch"

    def __init__(self, problem: Problem):
        import torch

        self.torch = torch
        c = problem.config
        self.model = torch.nn.ModuleDict(
            {
                "rnn": torch.nn.RNN(c.inputs, c.hidden, dtype=torch.float64),
                "head": torch.nn.Linear(c.hidden, c.outputs, dtype=torch.float64),
            }
        )
        self.model.load_state_dict({name: torch.from_numpy(value) for name, value in problem.params.items()})
        self.x = torch.from_numpy(problem.x)
        self.target = torch.from_numpy(problem.target)
        self.cross_entropy = c.loss == "cross_entropy"

    def loss(self, y):
        functional = self.torch.nn.functional
        if self.cross_entropy:
            return functional.cross_entropy(y, self.target)
        return functional.mse_loss(y, self.target)

    def step(self) -> float:
        model = self.model
        model.zero_grad()
        out, _ = model["rnn"](self.x)
        loss = self.loss(model["head"](out[-1]))
        loss.backward()
        return loss.item()

    def gradients(self) -> dict:
        """Parameter gradients; one the step never used (W_hh in the op loop when T = 1) is zero."""
        return {
            name: np.zeros(tuple(p.shape)) if p.grad is None else p.grad.numpy()
            for name, p in self.model.named_parameters()
        }


class TorchOpLoop(TorchModule):
    """PyTorch ops, one Elman step at a time: the graph tinygrad_rnn records, built by PyTorch."""

    label = "torch op loop"

    def step(self) -> float:
        model = self.model
        model.zero_grad()
        rnn = model["rnn"]
        w_ih_t, w_hh_t = rnn.weight_ih_l0.t(), rnn.weight_hh_l0.t()
        bias = rnn.bias_ih_l0 + rnn.bias_hh_l0
        h = self.torch.tanh(self.x[0] @ w_ih_t + bias)
        for t in range(1, len(self.x)):
            h = self.torch.tanh(self.x[t] @ w_ih_t + h @ w_hh_t + bias)
        loss = self.loss(model["head"](h))
        loss.backward()
        return loss.item()


class JaxScan:
    """JAX: value_and_grad of a lax.scan forward, compiled once with jit (float64)."""

    label = "JAX scan"
    package = "jax"

    def __init__(self, problem: Problem):
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        self.jax = jax
        cross_entropy = problem.config.loss == "cross_entropy"

        def loss_of(params, x, target):
            w_ih_t, w_hh_t = params["rnn.weight_ih_l0"].T, params["rnn.weight_hh_l0"].T
            bias = params["rnn.bias_ih_l0"] + params["rnn.bias_hh_l0"]

            def elman_step(h, x_t):
                h = jnp.tanh(x_t @ w_ih_t + h @ w_hh_t + bias)
                return h, None

            h0 = jnp.zeros((x.shape[1], w_hh_t.shape[0]), dtype=x.dtype)
            h, _ = jax.lax.scan(elman_step, h0, x)
            y = h @ params["head.weight"].T + params["head.bias"]
            if cross_entropy:
                return -jnp.mean(jnp.sum(jax.nn.log_softmax(y, axis=-1) * target, axis=-1))
            return jnp.mean((y - target) ** 2)

        self.loss_and_grads = jax.jit(jax.value_and_grad(loss_of))
        self.params = {name: jnp.asarray(value) for name, value in problem.params.items()}
        self.x, self.target = jnp.asarray(problem.x), jnp.asarray(problem.target)
        self.grads = None

    def step(self) -> float:
        loss, self.grads = self.jax.block_until_ready(self.loss_and_grads(self.params, self.x, self.target))
        return loss

    def gradients(self) -> dict:
        return {name: np.asarray(g) for name, g in self.grads.items()}


class HipsAutograd:
    """HIPS autograd: autograd.numpy code, one Elman step at a time."""

    label = "HIPS autograd"
    package = "autograd"

    def __init__(self, problem: Problem):
        import autograd
        import autograd.numpy as anp

        cross_entropy = problem.config.loss == "cross_entropy"

        def loss_of(params, x, target):
            w_ih_t, w_hh_t = params["rnn.weight_ih_l0"].T, params["rnn.weight_hh_l0"].T
            bias = params["rnn.bias_ih_l0"] + params["rnn.bias_hh_l0"]
            h = anp.tanh(anp.dot(x[0], w_ih_t) + bias)
            for t in range(1, len(x)):
                h = anp.tanh(anp.dot(x[t], w_ih_t) + anp.dot(h, w_hh_t) + bias)
            y = anp.dot(h, params["head.weight"].T) + params["head.bias"]
            if cross_entropy:
                shifted = y - anp.max(y, axis=-1, keepdims=True)
                log_probabilities = shifted - anp.log(anp.sum(anp.exp(shifted), axis=-1, keepdims=True))
                return -anp.mean(anp.sum(log_probabilities * target, axis=-1))
            return anp.mean((y - target) ** 2)

        self.loss_and_grads = autograd.value_and_grad(loss_of)
        self.problem = problem
        self.grads = None

    def step(self) -> float:
        p = self.problem
        loss, self.grads = self.loss_and_grads(p.params, p.x, p.target)
        return loss

    def gradients(self) -> dict:
        return self.grads


PEERS = (TorchModule, TorchOpLoop, JaxScan, HipsAutograd)


def installed_peers() -> list:
    """The peer contender classes whose package can be imported here."""
    return [peer for peer in PEERS if importlib.util.find_spec(peer.package) is not None]


def build_contenders(problem: Problem, peers=None) -> list:
    """Hand-written first, tinygrad_rnn eager and jit next, then the peers (all installed ones by default)."""
    peers = installed_peers() if peers is None else peers
    return [HandWritten(problem), TinygradRNN(problem), TinygradJit(problem)] + [peer(problem) for peer in peers]


# ---------------------------------------------------------------- agreement


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """max |ours - reference| / max |reference| (the absolute error where the reference is all zero)."""
    ours, reference = np.asarray(ours, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if ours.shape != reference.shape:
        return float("inf")
    scale = np.abs(reference).max(initial=0.0)
    error = np.abs(ours - reference).max(initial=0.0)
    return float(error / scale) if scale > 0 else float(error)


def gradient_errors(contenders: list) -> dict:
    """Run one step of each contender; its worst relative error (loss and every gradient) against the first."""
    reference = contenders[0]
    reference_loss = float(reference.step())
    reference_grads = reference.gradients()
    errors = {}
    for contender in contenders[1:]:
        loss = float(contender.step())
        grads = contender.gradients()
        worst = relative_error(loss, reference_loss)
        for name in PARAMETER_NAMES:
            worst = max(worst, relative_error(grads[name], reference_grads[name]))
        errors[contender.label] = worst
    return errors


# ---------------------------------------------------------------- timing and memory


def seconds_per_step(step: Callable, count: int) -> float:
    """Wall time of `count` back-to-back steps, per step."""
    start = time.perf_counter()
    for _ in range(count):
        step()
    return (time.perf_counter() - start) / count


def interleaved_medians(contenders: list, repeats: int, sample_seconds: float, warmup: int) -> dict:
    """Median seconds per step for each contender, over `repeats` rounds (see interleaved_samples)."""
    samples = interleaved_samples(contenders, repeats, sample_seconds, warmup)
    return {label: float(np.median(times)) for label, times in samples.items()}


def spread(times: list) -> float:
    """The interquartile range of `times` over their median."""
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return float((q3 - q1) / median)


def interleaved_samples(contenders: list, repeats: int, sample_seconds: float, warmup: int) -> dict:
    """Seconds per step of each contender in each of `repeats` rounds.

    After `warmup` untimed steps each contender gets a steps-per-sample count making one sample
    last about `sample_seconds`; each round then takes one sample of every contender, the order
    rotating from round to round so no contender always runs right after the same one. The
    garbage collector stays on, but what is alive before timing (the peers' imported modules
    above all) is frozen out of its scans, so one library's import does not slow another's
    collections.
    """
    counts = {}
    for contender in contenders:
        for _ in range(warmup):
            contender.step()
        estimate = seconds_per_step(contender.step, 1)
        counts[contender.label] = max(1, round(sample_seconds / max(estimate, 1e-7)))
    samples = {contender.label: [] for contender in contenders}
    gc.collect()
    gc.freeze()
    try:
        for round_index in range(repeats):
            shift = round_index % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                samples[contender.label].append(seconds_per_step(contender.step, counts[contender.label]))
    finally:
        gc.unfreeze()
    return samples


def peak_step_memory(step: Callable) -> int:
    """Peak bytes allocated by one step and alive at the same time (tracemalloc sees NumPy's buffers)."""
    gc.collect()
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------- the machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_description() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError):  # older NumPy has no mode="dicts"
        return "unknown"


def blas_threads() -> tuple[int, str]:
    """NumPy's BLAS thread count and how it was found."""
    if importlib.util.find_spec("threadpoolctl") is not None:
        from threadpoolctl import threadpool_info

        pools = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
        if pools:
            return pools[0]["num_threads"], "threadpoolctl"
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(variable, "").isdigit():
            return int(os.environ[variable]), variable
    return os.cpu_count() or 1, "OpenBLAS default: one per CPU"


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# glibc's malloc settings that keep freed memory in the process. By default glibc hands memory
# at the top of its heap back to the system once enough of it is free there, and whether that
# happens every step depends on where the heap happens to end: in a process where it does, each
# large temporary page-faults anew every step (mid then ran far slower, for both NumPy
# contenders). The trim threshold stops that; setting it also freezes glibc's otherwise adaptive
# mmap threshold at its 128 KiB default, so that is set too, to keep arrays below 32 MiB on the
# heap instead of in fresh mappings.
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(256 * 2**20)}
RESTARTED = "BENCH_BPTT_RESTARTED"  # set in the restarted process, which never restarts again


def prepare_process(threads: int, may_restart: bool) -> None:
    """Give every contender `threads` threads (NumPy's BLAS, PyTorch's pool and, for one thread,
    XLA's) and, on glibc, the STEADY_MALLOC settings.

    NumPy's BLAS takes its thread count when NumPy is imported, and malloc its settings when the
    process starts, so what is missing restarts the script once (when `may_restart`: only when it
    runs as a script) with the variables set: OPENBLAS_NUM_THREADS (and OMP_, MKL_) without
    threadpoolctl, and STEADY_MALLOC's. Every other variable, OPENBLAS_CORETYPE and
    OPENBLAS_L2_SIZE included, is kept.
    """
    missing = {}
    if blas_threads()[0] != threads:
        if importlib.util.find_spec("threadpoolctl") is not None:
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads, user_api="blas")
        else:
            missing.update({variable: str(threads) for variable in BLAS_THREAD_VARIABLES})
    if platform.libc_ver()[0] == "glibc":
        missing.update({name: value for name, value in STEADY_MALLOC.items() if name not in os.environ})
    if missing and may_restart and RESTARTED not in os.environ:
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable] + sys.orig_argv[1:], dict(os.environ, **missing, **{RESTARTED: "1"}))
    if missing:
        settings = " ".join(f"{name}={value}" for name, value in missing.items())
        print(
            f"note: this process runs without {settings}; start with them set (or, for the threads, "
            "install threadpoolctl) to time as the script does"
        )
    if threads == 1 and "jax" not in sys.modules:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)


def machine_description() -> list[str]:
    """Lines describing the CPU, NumPy and its BLAS, the thread counts and the peers' versions."""
    threads, source = blas_threads()
    lines = [
        f"CPU: {_cpu_model()}, {os.cpu_count()} logical cores; Python {platform.python_version()}",
        f"NumPy {np.__version__} with {_blas_description()}; BLAS threads: {threads} ({source})",
    ]
    tuning = [f"{v}={os.environ[v]}" for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ]
    lines.append("OpenBLAS tuning variables: " + (", ".join(tuning) if tuning else "none set"))
    malloc = [f"{v}={os.environ[v]}" for v in STEADY_MALLOC if v in os.environ]
    lines.append("malloc variables: " + (", ".join(malloc) if malloc else "none set"))
    peers = []
    for package in dict.fromkeys(peer.package for peer in installed_peers()):
        text = f"{package} {importlib.metadata.version(package)}"
        if package == "torch":
            import torch

            text += f" (threads: {torch.get_num_threads()})"
        if package == "jax":
            flags = os.environ.get("XLA_FLAGS")
            text += f", jaxlib {importlib.metadata.version('jaxlib')}" + (f" (XLA_FLAGS={flags})" if flags else "")
        peers.append(text)
    lines.append("Peers: " + (", ".join(peers) if peers else "none installed"))
    return lines


# ---------------------------------------------------------------- report


def render_table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    """Rows as an aligned text table, or as a Markdown table."""
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header] + rows)


def format_microseconds(seconds: float) -> str:
    microseconds = seconds * 1e6
    return f"{microseconds:,.0f}" if microseconds >= 100 else f"{microseconds:.1f}"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def time_config(name: str, peers: list, repeats: int, sample_seconds: float, warmup: int) -> tuple[dict, dict]:
    """Agreement errors and the per-round seconds per step of every contender on one config."""
    contenders = build_contenders(make_problem(CONFIGS[name]), peers)
    errors = gradient_errors(contenders)
    wrong = [label for label, error in errors.items() if not error <= AGREEMENT_TOLERANCE]
    if wrong:
        raise SystemExit(f"{name}: {', '.join(wrong)} disagree with the hand-written gradients: {errors}")
    return errors, interleaved_samples(contenders, repeats, sample_seconds, warmup)


def measure_memory(name: str) -> dict:
    """Peak bytes of one step on config `name` for hand-written, eager and jit (each warmed up
    once, so jit's is a compiled call)."""
    problem = make_problem(CONFIGS[name])
    peaks = {}
    for contender in (HandWritten(problem), TinygradRNN(problem), TinygradJit(problem)):
        contender.step()
        if isinstance(contender, HandWritten):
            contender.result = None
        else:
            contender.model.zero_grad()
        peaks[contender.label] = peak_step_memory(contender.step)
    return peaks


def first_call_seconds(name: str) -> float:
    """Seconds of jit's first call on config `name`: the eager step it traces, generating the
    program and compiling it."""
    contender = TinygradJit(make_problem(CONFIGS[name]))
    return seconds_per_step(contender.step, 1)


def program_lines(steps: int) -> int:
    """Lines of the program jit generates for the growth config at sequence length `steps`."""
    contender = TinygradJit(make_problem(CONFIGS[GROWTH_CONFIG]._replace(steps=steps)))
    contender.step()
    return len(contender.compiled.source.splitlines())


def measure_growth(repeats: int, sample_seconds: float, warmup: int) -> dict:
    """Median seconds per step of hand-written, eager and jit at the short and the full length,
    keyed (label, T); all six interleaved."""
    contenders = {}
    for steps in (GROWTH_SHORT_STEPS, CONFIGS[GROWTH_CONFIG].steps):
        problem = make_problem(CONFIGS[GROWTH_CONFIG]._replace(steps=steps))
        for contender in (HandWritten(problem), TinygradRNN(problem), TinygradJit(problem)):
            key = (contender.label, steps)
            contender.label = f"{contender.label} T={steps}"
            contenders[key] = contender
    times = interleaved_medians(list(contenders.values()), repeats, sample_seconds, warmup)
    return {key: times[contender.label] for key, contender in contenders.items()}


def timing_cell(times: list, base: float) -> str:
    """Median µs, (ratio to hand-written), ±spread."""
    median = float(np.median(times))
    return f"{format_microseconds(median)} ({median / base:.2f}) ±{spread(times):.0%}"


def run_benchmark(config_names: list[str], repeats: int, sample_seconds: float, warmup: int, markdown: bool) -> None:
    """Check agreement, time every contender on every config, then jit's first calls, program
    length, memory and growth; print it all."""
    peers = installed_peers()
    labels = [HandWritten.label, TinygradRNN.label, TinygradJit.label] + [peer.label for peer in peers]
    print("\n".join(machine_description()))
    print(
        f"float64; median of {repeats} interleaved rounds per contender, ±: the interquartile range over the "
        "median; gc on, with what was alive before timing frozen out of its scans\n"
    )

    agreement_rows, timing_rows, samples = [], [], {}
    for name in config_names:
        errors, samples[name] = time_config(name, peers, repeats, sample_seconds, warmup)
        print(f"  timed {name}", file=sys.stderr)
        times, config = samples[name], CONFIGS[name]
        base = float(np.median(times[HandWritten.label]))
        ratio = float(np.median(times[TinygradJit.label])) / base
        agreement_rows.append([name] + [f"{errors[label]:.1e}" for label in labels[1:]])
        timing_rows.append(
            [name, config.shape_label, f"{format_microseconds(base)} ±{spread(times[HandWritten.label]):.0%}"]
            + [timing_cell(times[label], base) for label in labels[1:3]]
            + [f"<= {JIT_TARGET:g} {verdict(ratio <= JIT_TARGET)}"]
            + [timing_cell(times[label], base) for label in labels[3:]]
        )
    medians = {name: {label: float(np.median(t)) for label, t in times.items()} for name, times in samples.items()}
    print(
        f"Gradient agreement with hand-written (max relative error over the loss and all gradients; "
        f"required <= {AGREEMENT_TOLERANCE:g})"
    )
    print(render_table(["config"] + labels[1:], agreement_rows, markdown) + "\n")
    print("Training step time, µs (in brackets: ratio to hand-written; ±: spread over rounds)")
    header = ["config", "B, T, I, H", "hand-written", "eager", "jit", "jit target"] + labels[3:]
    print(render_table(header, timing_rows, markdown) + "\n")

    first_calls = {name: first_call_seconds(name) for name in config_names}
    print("jit's first call (trace the eager step, generate and compile the program), s")
    print(
        render_table(
            ["config", "first call"], [[name, f"{seconds:.2f}"] for name, seconds in first_calls.items()], markdown
        )
        + "\n"
    )

    lines = None
    if GROWTH_CONFIG in config_names:
        lines = {steps: program_lines(steps) for steps in (GROWTH_SHORT_STEPS, CONFIGS[GROWTH_CONFIG].steps)}
        print(f"Length of jit's program for {GROWTH_CONFIG} (lines)")
        print(render_table([f"T={steps}" for steps in lines], [[str(n) for n in lines.values()]], markdown) + "\n")

    memory = {name: measure_memory(name) for name in MEMORY_CONFIGS if name in config_names}
    if memory:
        print("Peak memory of one step (tracemalloc, MiB; in brackets: ratio to hand-written)")
        rows = [
            [name]
            + [
                f"{peaks[label] / 2**20:.2f}"
                + ("" if label == HandWritten.label else f" ({peaks[label] / peaks[HandWritten.label]:.2f})")
                for label in labels[:3]
            ]
            for name, peaks in memory.items()
        ]
        print(render_table(["config"] + labels[:3], rows, markdown) + "\n")

    growth = None
    if GROWTH_CONFIG in config_names:
        times = measure_growth(repeats, sample_seconds, warmup)
        short, full = GROWTH_SHORT_STEPS, CONFIGS[GROWTH_CONFIG].steps
        rows = [
            [
                label,
                format_microseconds(times[label, short]),
                format_microseconds(times[label, full]),
                f"{times[label, full] / times[label, short]:.2f}",
            ]
            for label in labels[:3]
        ]
        growth = times[TinygradJit.label, full] / times[TinygradJit.label, short]
        config = CONFIGS[GROWTH_CONFIG]
        print(
            f"Growth with sequence length ({GROWTH_CONFIG} with B, I, H = {config.batch}, {config.inputs}, "
            f"{config.hidden}; proportional would be {full / short:g})"
        )
        print(render_table(["contender", f"T={short} µs", f"T={full} µs", "ratio"], rows, markdown) + "\n")

    print("Targets")
    rows = target_rows(samples, medians, memory, growth, first_calls, lines)
    print(render_table(["target", "measured", "verdict"], rows, markdown))


def _inside_spread(samples: dict, ours: str, theirs: str) -> bool:
    """Whether two contenders' interquartile ranges overlap (their difference is within the noise)."""
    q1a, q3a = np.percentile(samples[ours], [25, 75])
    q1b, q3b = np.percentile(samples[theirs], [25, 75])
    return bool(q1a <= q3b and q1b <= q3a)


def target_rows(
    samples: dict, medians: dict, memory: dict, growth: float | None, first_calls: dict, lines: dict | None
) -> list[list[str]]:
    """The issue's targets for jit, each with what this run measured."""
    rows = []
    ours = TinygradJit.label
    for name, times in medians.items():
        ratio = times[ours] / times[HandWritten.label]
        rows.append([f"{name}: jit / hand-written <= {JIT_TARGET:g}", f"{ratio:.2f}", verdict(ratio <= JIT_TARGET)])
    for label, configs in (
        (TorchOpLoop.label, list(medians)),
        (HipsAutograd.label, list(medians)),
        (JaxScan.label, [n for n in JAX_TARGET_CONFIGS if n in medians]),
    ):
        measured = {name: medians[name][ours] / medians[name][label] for name in configs if label in medians[name]}
        if not measured:
            continue
        slower = [
            f"{name} {value:.2f}" + (" (inside the spread)" if _inside_spread(samples[name], ours, label) else "")
            for name, value in measured.items()
            if value >= 1
        ]
        text = "; ".join(slower) if slower else f"worst {max(measured.values()):.2f}"
        rows.append([f"jit faster than {label} on {', '.join(measured)} (jit / {label})", text, verdict(not slower)])
    for name, seconds in first_calls.items():
        if name == GROWTH_CONFIG:
            rows.append(
                [
                    f"{name}: jit's first call < {FIRST_CALL_TARGET:g} s",
                    f"{seconds:.2f}",
                    verdict(seconds < FIRST_CALL_TARGET),
                ]
            )
    if lines is not None:
        counts = list(lines.values())
        rows.append(
            [
                f"{GROWTH_CONFIG}: program lines equal at T = {', '.join(map(str, lines))} and < {LINES_TARGET}",
                ", ".join(map(str, counts)),
                verdict(len(set(counts)) == 1 and max(counts) < LINES_TARGET),
            ]
        )
    if growth is not None:
        rows.append(
            [
                (
                    f"{GROWTH_CONFIG}: jit time(T={CONFIGS[GROWTH_CONFIG].steps}) / time(T={GROWTH_SHORT_STEPS}) "
                    f"<= {GROWTH_TARGET:g}"
                ),
                f"{growth:.2f}",
                verdict(growth <= GROWTH_TARGET),
            ]
        )
    if MEMORY_TARGET_CONFIG in memory:
        peaks = memory[MEMORY_TARGET_CONFIG]
        ratio = peaks[ours] / peaks[HandWritten.label]
        rows.append(
            [
                f"{MEMORY_TARGET_CONFIG}: jit peak memory / hand-written <= {MEMORY_TARGET:g}",
                f"{ratio:.2f}",
                verdict(ratio <= MEMORY_TARGET),
            ]
        )
    return rows


def profile_tinygrad(name: str, seconds: float, top: int) -> None:
    """cProfile of tinygrad_rnn's training step on one config: the `top` functions by own time."""
    contender = TinygradRNN(make_problem(CONFIGS[name]))
    contender.step()
    count = max(1, round(seconds / seconds_per_step(contender.step, 1)))
    profiler = cProfile.Profile()
    gc.collect()
    gc.freeze()
    try:
        profiler.enable()
        for _ in range(count):
            contender.step()
        profiler.disable()
    finally:
        gc.unfreeze()
    print(f"tinygrad_rnn on {name} ({CONFIGS[name].shape_label}): {count} steps under cProfile")
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(top)


def timed_functions() -> list[tuple[object, str]]:
    """(owner, name) of the functions that do the step's NumPy work: every op's forward and
    backward, and the arithmetic that adds gradients up (the lazy gradients' methods, the walk's
    `add` from grads.py, a leaf's `_accumulate_grad`)."""
    from tinygrad_rnn import grads

    classes, pending = [], [ops.Function]
    while pending:
        cls = pending.pop()
        classes.append(cls)
        pending.extend(cls.__subclasses__())
    functions = [(cls, name) for cls in classes for name in ("forward", "backward") if name in vars(cls)]
    functions += [
        (grads.IndexedGrad, "dense"),
        (grads.IndexedGrad, "add_to"),
        (grads.ZeroGrad, "dense"),
        (autograd, "add"),
        (Tensor, "_accumulate_grad"),
    ]
    for owner, name in functions:
        assert isinstance(vars(owner)[name], types.FunctionType), f"{owner.__name__}.{name} is not a plain function"
    return functions


ROUNDS_PER_SPLIT = 5


class OpTimer:
    """Times the functions of timed_functions() from inside while active (`with timer:`).

    A call made from another timed call is inside that call's span, so only the outermost calls
    are added up. Timing costs a little on every call; `calibrate()` measures that on a function
    called like an op, so that `op_seconds()` can take it off."""

    def __init__(self):
        self.functions = timed_functions()
        self.originals = []
        self.seconds, self.calls, self.nested, self.depth = 0.0, 0, 0, 0
        self.cost_inside = self.cost_per_call = 0.0

    def wrap(self, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            self.depth += 1
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.depth -= 1
                if self.depth:
                    self.nested += 1
                else:
                    self.seconds += elapsed
                    self.calls += 1

        return timed

    def calibrate(self, calls: int = 200_000) -> None:
        """Measure what timing one call costs: inside the timed span, and in all."""

        def forward(x, y, out=None):
            pass

        a, b = np.zeros(1), np.zeros(1)
        timed = self.wrap(forward)
        bare = seconds_per_step(lambda: forward(a, b, out=None), calls)
        self.reset()
        wrapped = seconds_per_step(lambda: timed(a, b, out=None), calls)
        self.cost_inside, self.cost_per_call = self.seconds / calls, wrapped - bare

    def reset(self) -> None:
        self.seconds, self.calls, self.nested = 0.0, 0, 0

    def op_seconds(self) -> float:
        """Time inside the outermost timed calls since reset(), less what timing them cost."""
        return self.seconds - self.calls * self.cost_inside - self.nested * self.cost_per_call

    def __enter__(self):
        self.originals = [vars(owner)[name] for owner, name in self.functions]
        for (owner, name), original in zip(self.functions, self.originals):
            setattr(owner, name, self.wrap(original))
        return self

    def __exit__(self, *exc):
        for (owner, name), original in zip(self.functions, self.originals):
            setattr(owner, name, original)
        return False


def split_tinygrad(name: str, seconds: float) -> None:
    """How much of tinygrad_rnn's step on one config is NumPy work (the functions of
    timed_functions(), timed from inside) and how much is the rest: recording the ops, the
    backward walk, tensors and the model's Python code.

    Each round times the hand-written step, tinygrad_rnn's step as it is, and its step again
    with the NumPy work timed; the table gives medians over rounds. The NumPy work's time over
    the hand-written step's is the ratio an engine whose bookkeeping cost nothing would reach
    with these ops.
    """
    problem = make_problem(CONFIGS[name])
    contender, hand = TinygradRNN(problem), HandWritten(problem)
    hand.step()
    contender.step()
    hand_count = max(1, round(seconds / seconds_per_step(hand.step, 1)))
    count = max(1, round(seconds / seconds_per_step(contender.step, 1)))
    timer = OpTimer()
    timer.calibrate()
    hand_times, step_times, op_times = [], [], []
    for _ in range(ROUNDS_PER_SPLIT):
        hand_times.append(seconds_per_step(hand.step, hand_count))
        step_times.append(seconds_per_step(contender.step, count))
        with timer:
            timer.reset()
            seconds_per_step(contender.step, count)
        op_times.append(timer.op_seconds() / count)
    hand_time, step_time, ops_time = (float(np.median(t)) for t in (hand_times, step_times, op_times))
    print(
        f"tinygrad_rnn on {name} ({CONFIGS[name].shape_label}), µs per training step: medians of "
        f"{ROUNDS_PER_SPLIT} rounds of {count} steps"
    )
    rows = [
        ["the whole step", format_microseconds(step_time), f"{step_time / hand_time:.2f}"],
        [
            f"inside the ops and gradient sums ({timer.calls / count:,.0f} outermost calls)",
            format_microseconds(ops_time),
            f"{ops_time / hand_time:.2f}",
        ],
        [
            "the rest: recording, the walk, tensors, model code",
            format_microseconds(step_time - ops_time),
            f"{(step_time - ops_time) / hand_time:.2f}",
        ],
        ["hand-written step", format_microseconds(hand_time), "1.00"],
    ]
    print(render_table(["part", "µs", "over hand-written"], rows, markdown=False))


def main(argv=None, may_restart: bool = False) -> None:
    """Parse `argv` (the command line when None) and run; `may_restart` lets prepare_process()
    restart the process, which only the script itself should allow."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs", default=",".join(CONFIGS), help=f"comma-separated, from {', '.join(CONFIGS)} (default: all)"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed rounds per config (default 21, 3 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="few short rounds: a smoke run, not a measurement")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for NumPy's BLAS, PyTorch and XLA (default 1: the same for all, and steady on a shared machine)",
    )
    parser.add_argument(
        "--profile",
        metavar="CONFIG",
        default=None,
        help="instead of benchmarking, print a cProfile of tinygrad_rnn's step on CONFIG",
    )
    parser.add_argument(
        "--split",
        metavar="CONFIG",
        default=None,
        help="instead of benchmarking, split tinygrad_rnn's step on CONFIG into the ops' own NumPy work and the rest",
    )
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names + [args.profile, args.split] if n and n not in CONFIGS]
    if unknown:
        parser.error(f"unknown config {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    prepare_process(args.threads, may_restart)
    if args.profile:
        profile_tinygrad(args.profile, seconds=0.5 if args.quick else 3.0, top=25)
        return
    if args.split:
        split_tinygrad(args.split, seconds=0.2 if args.quick else 2.0)
        return
    repeats = args.repeats or (3 if args.quick else 21)
    sample_seconds, warmup = (0.002, 1) if args.quick else (0.02, 3)
    run_benchmark(names, repeats, sample_seconds, warmup, args.markdown)


if __name__ == "__main__":
    main(may_restart=True)
