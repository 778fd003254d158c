"""Is the eager step of one revision slower than another's? Time both, in alternating processes.

Each revision is exported with `git archive` into a temporary folder (WORKTREE stands for the
files as they are now, committed or not). A round starts one child process per revision, the
order alternating from round to round; the child imports tinygrad_rnn from its revision's
folder and times the eager training step of benchmarks/bench_bptt.py (its TinygradRNN
contender, taken from this checkout, so both revisions run the same step code) on every
config. The table gives, per config, the median over rounds of each revision's time per step
and their ratio, and the ratio of each revision's fastest process (other work on the machine
only ever adds time, so the fastest is the least disturbed). Children run with one BLAS thread
and bench_bptt's malloc settings. `--clock cpu` times the process's CPU time instead of wall
time: steadier on a machine other work keeps busy, since time spent waiting for a core is not
counted.

    python benchmarks/compare_commits.py f476b92 WORKTREE
    python benchmarks/compare_commits.py main HEAD --configs tiny,long --rounds 21
"""

from __future__ import annotations

import argparse
import json
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
    target.mkdir()
    archive_path = folder / "tree.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(target, filter="data")
    archive_path.unlink()
    return target


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def child(configs: list[str], seconds: float, warmup: int, clock_name: str) -> None:
    """Print {config: seconds per step} as JSON for the tinygrad_rnn on sys.path first: the
    median of 5 samples of about seconds / 5 each."""
    sys.path.append(str(ROOT))  # after the revision's folder, which PYTHONPATH puts first
    import tinygrad_rnn
    from benchmarks.bench_bptt import CONFIGS, TinygradRNN, make_problem

    clock = CLOCKS[clock_name]

    def per_step(step, count: int) -> float:
        start = clock()
        for _ in range(count):
            step()
        return (clock() - start) / count

    times = {}
    for name in configs:
        contender = TinygradRNN(make_problem(CONFIGS[name]))
        for _ in range(warmup):
            contender.step()
        count = max(1, round(seconds / 5 / max(per_step(contender.step, 1), 1e-6)))
        times[name] = statistics.median(per_step(contender.step, count) for _ in range(5))
    print(json.dumps({"module": tinygrad_rnn.__file__, "times": times}))


def run_child(source: Path, configs: list[str], seconds: float, warmup: int, clock: str) -> dict:
    env = dict(os.environ, **ONE_THREAD, **STEADY_MALLOC, PYTHONPATH=str(source))
    command = [sys.executable, __file__, CHILD_FLAG, ",".join(configs), str(seconds), str(warmup), clock]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"timing {source} failed:\n{result.stderr}")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    expected = source / "tinygrad_rnn" / "__init__.py"
    if Path(answer["module"]).resolve() != expected.resolve():
        raise RuntimeError(f"the child imported {answer['module']}, not {expected}")
    return answer["times"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the revision compared against (a commit, branch or WORKTREE)")
    parser.add_argument("new", help="the revision timed over it (a commit, branch or WORKTREE)")
    parser.add_argument("--configs", default=",".join(ALL_CONFIGS), help="comma-separated bench_bptt configs")
    parser.add_argument("--rounds", type=int, default=15, help="child processes per revision (default 15)")
    parser.add_argument("--seconds", type=float, default=0.5, help="timed seconds per config and child")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per config and child")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="wall time (default) or CPU time")
    args = parser.parse_args(argv)
    configs = args.configs.split(",")
    unknown = [name for name in configs if name not in ALL_CONFIGS]
    if unknown:
        parser.error(f"--configs: unknown config {unknown[0]!r}; choose from {', '.join(ALL_CONFIGS)}")
    revisions = (args.base, args.new)
    samples = {revision: {name: [] for name in configs} for revision in revisions}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        sources = {revision: export(revision, Path(folder)) for revision in revisions}
        for round_index in range(args.rounds):
            order = revisions if round_index % 2 == 0 else revisions[::-1]
            for revision in order:
                for name, value in run_child(sources[revision], configs, args.seconds, args.warmup, args.clock).items():
                    samples[revision][name].append(value)
    print(
        f"eager step ({args.clock} time), median of {args.rounds} alternating processes per revision "
        f"({time.perf_counter() - started:.0f} s in all)"
    )
    print(f"| config | {args.base} | {args.new} | ratio | ratio range | ratio of the fastest |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in configs:
        base, new = samples[args.base][name], samples[args.new][name]
        ratios = sorted(n / b for n, b in zip(new, base))
        base_median, new_median = statistics.median(base), statistics.median(new)
        print(
            f"| {name} | {base_median * 1e3:.3f} ms | {new_median * 1e3:.3f} ms | "
            f"{new_median / base_median:.3f} | {ratios[0]:.2f}-{ratios[-1]:.2f} | {min(new) / min(base):.3f} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD_FLAG:
        child(sys.argv[2].split(","), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        main()
