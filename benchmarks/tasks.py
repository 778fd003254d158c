"""Every task with its defaults: the measured score beside the document's number and the baselines.

python benchmarks/tasks.py                  # all four tasks
python benchmarks/tasks.py --tasks sine,weather
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinygrad_rnn.tasks import TASKS  # noqa: E402

DOCUMENT = {
    "sentiment": "100% train and test by epoch 200 (corrected BPTT: ~300-400)",
    "sine": "train 0.0052 / validation 0.0054",
    "temperature": "validation MSE 0.0108 (scaled)",
    "weather": "no score (exact walk-through numbers only)",
}


def _score(name: str, metrics: dict) -> tuple[str, str]:
    if name == "sentiment":
        return (
            f"train {metrics['train_accuracy']:.0%}, test {metrics['test_accuracy']:.0%}, "
            f"100% at epoch {metrics['epoch_100']}",
            "chance 50%",
        )
    if name == "sine":
        return (
            f"train {metrics['train_loss']:.2e} / validation {metrics['validation_loss']:.2e}",
            f"persistence {metrics['persistence_validation_loss']:.2e}",
        )
    if name == "temperature":
        return (
            f"validation MSE {metrics['validation_mse']:.5f}",
            f"persistence {metrics['persistence_mse']:.5f}, linear {metrics['linear_mse']:.5f}",
        )
    return (
        f"validation {metrics['validation_mse']:.3f} C^2, test {metrics['test_mse']:.3f}",
        f"persistence {metrics['persistence_validation_mse']:.3f} / {metrics['persistence_test_mse']:.3f}",
    )


def main(argv=None) -> int:
    """Run the tasks and print one Markdown row each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated task names")
    names = parser.parse_args(argv).tasks.split(",")
    unknown = [name for name in names if name not in TASKS]
    if unknown:
        parser.error(f"unknown task {unknown[0]!r}; choose from {', '.join(TASKS)}")
    print("| task | measured | document | baselines | epochs | seconds | seed |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        module = TASKS[name]
        config = module.Config()
        result = module.run(config)
        measured, baselines = _score(name, result.metrics)
        print(
            f"| {name} | {measured} | {DOCUMENT[name]} | {baselines} | {result.history.epochs} | "
            f"{result.seconds:.1f} | {config.seed} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
