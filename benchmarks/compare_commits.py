"""Is the eager step of one revision slower than another's? Time both in paired samples.

Each revision is exported with `git archive` into a temporary folder (WORKTREE stands for the
files as they are now, committed or not). A round starts one child process per revision; the
child imports tinygrad_rnn from its revision's folder and builds the eager training step of
benchmarks/bench_bptt.py (its TinygradRNN contender, taken from this checkout, so both
revisions run the same step code) for every config. Within a round the two children then take
turns: one sample of a config in one child, the same config in the other, the order swapping
from pair to pair, so the two samples of a pair see the machine in nearly the same state. The
table gives, per config, the median over all samples of each revision's time per step, the
median and quartiles of the pairs' ratios, and the ratio of each revision's fastest sample
(other work on the machine only ever adds time, so the fastest is the least disturbed).
Children run with one BLAS thread and bench_bptt's malloc settings. `--clock cpu` times CPU
time instead of wall time: steadier on a machine other work keeps busy.

    python benchmarks/compare_commits.py f476b92 WORKTREE
    python benchmarks/compare_commits.py main HEAD --configs tiny,long --rounds 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKTREE = "WORKTREE"
CHILD_FLAG = "--child"
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(256 * 2**20)}
ALL_CONFIGS = ("tiny", "sentiment", "temps", "mid", "large", "long")


def export(revision: str, folder: Path) -> Path:
    """The package of `revision` written into a folder under `folder` (for WORKTREE, the checkout
    itself); only tinygrad_rnn/, so that bench_bptt always comes from this checkout."""
    if revision == WORKTREE:
        return ROOT
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "tinygrad_rnn"], check=True, capture_output=True
    ).stdout
    target = folder / revision.replace("/", "_")
    target.mkdir(parents=True)
    archive_path = folder / "tree.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(target, filter="data")
    archive_path.unlink()
    return target


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def child(configs: list[str], seconds: float, warmup: int, clock_name: str) -> None:
    """Serve samples of the tinygrad_rnn on sys.path first: print its file, then, for each config
    name read from stdin, the seconds per step of one sample of about `seconds`."""
    sys.path.append(str(ROOT))  # after the revision's folder, which PYTHONPATH puts first
    import tinygrad_rnn
    from benchmarks.bench_bptt import CONFIGS, TinygradRNN, make_problem

    clock = CLOCKS[clock_name]

    def per_step(step, count: int) -> float:
        start = clock()
        for _ in range(count):
            step()
        return (clock() - start) / count

    steps, counts = {}, {}
    for name in configs:
        step = TinygradRNN(make_problem(CONFIGS[name])).step
        for _ in range(warmup):
            step()
        steps[name], counts[name] = step, max(1, round(seconds / max(per_step(step, 1), 1e-6)))
    print(tinygrad_rnn.__file__, flush=True)
    for line in sys.stdin:
        name = line.strip()
        print(per_step(steps[name], counts[name]), flush=True)


class Child:
    """One child process timing the eager step of the revision exported to `source`."""

    def __init__(self, source: Path, configs: list[str], seconds: float, warmup: int, clock: str):
        env = dict(os.environ, **ONE_THREAD, **STEADY_MALLOC, PYTHONPATH=str(source))
        command = [sys.executable, __file__, CHILD_FLAG, ",".join(configs), str(seconds), str(warmup), clock]
        self.source = source
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        module = self._answer()
        expected = source / "tinygrad_rnn" / "__init__.py"
        if Path(module).resolve() != expected.resolve():
            raise RuntimeError(f"the child imported {module}, not {expected}")

    def _answer(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"timing {self.source} failed (exit code {self.process.wait()}); its error is above")
        return line.strip()

    def sample(self, config: str) -> float:
        """Seconds per step of one sample of `config`."""
        self.process.stdin.write(config + "\n")
        self.process.stdin.flush()
        return float(self._answer())

    def close(self) -> None:
        self.process.stdin.close()  # the child's loop ends at the end of its input
        self.process.wait()
        self.process.stdout.close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the revision compared against (a commit, branch or WORKTREE)")
    parser.add_argument("new", help="the revision timed over it (a commit, branch or WORKTREE)")
    parser.add_argument("--configs", default=",".join(ALL_CONFIGS), help="comma-separated bench_bptt configs")
    parser.add_argument("--rounds", type=int, default=5, help="pairs of child processes (default 5)")
    parser.add_argument("--pairs", type=int, default=10, help="paired samples per config and round (default 10)")
    parser.add_argument("--seconds", type=float, default=0.1, help="timed seconds per sample")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per config and child")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="wall time (default) or CPU time")
    args = parser.parse_args(argv)
    configs = args.configs.split(",")
    unknown = [name for name in configs if name not in ALL_CONFIGS]
    if unknown:
        parser.error(f"--configs: unknown config {unknown[0]!r}; choose from {', '.join(ALL_CONFIGS)}")
    if args.rounds < 1 or args.pairs < 1 or args.rounds * args.pairs < 2:
        parser.error("--rounds and --pairs: at least 1 each, and at least 2 pairs in all")
    sides = ("base", "new")  # by side, not by name: a revision may be timed against itself
    samples = {side: {name: [] for name in configs} for side in sides}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        sources = {side: export(revision, Path(folder) / side) for side, revision in zip(sides, (args.base, args.new))}
        for round_index in range(args.rounds):
            order = sides if round_index % 2 == 0 else sides[::-1]
            children = {side: Child(sources[side], configs, args.seconds, args.warmup, args.clock) for side in order}
            try:
                for name in configs:
                    for pair in range(args.pairs):
                        for side in order if pair % 2 == 0 else order[::-1]:
                            samples[side][name].append(children[side].sample(name))
            finally:
                for child_process in children.values():
                    child_process.close()
    print(
        f"eager step ({args.clock} time): {args.rounds} rounds of two processes, {args.pairs} paired samples "
        f"per config and round ({time.perf_counter() - started:.0f} s in all)"
    )
    print(f"| config | {args.base} | {args.new} | ratio (median of pairs) | ratio quartiles | ratio of the fastest |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in configs:
        base, new = samples["base"][name], samples["new"][name]
        low, middle, high = statistics.quantiles([n / b for n, b in zip(new, base)], n=4)
        print(
            f"| {name} | {statistics.median(base) * 1e3:.3f} ms | {statistics.median(new) * 1e3:.3f} ms | "
            f"{middle:.3f} | {low:.2f}-{high:.2f} | {min(new) / min(base):.3f} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD_FLAG:
        child(sys.argv[2].split(","), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        main()
