"""Options for the fuzz test (tests/test_fuzz.py), and the `folder` fixture of the command-line tests.

--fuzz-graphs N   how many random op graphs to check (default 300, a few seconds; CI uses 10000)
--fuzz-seed S     the first graph's seed (default 0); graph k has seed S + k
"""

import pytest


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A fresh temporary folder, made the working directory (for runs of the command line)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


FUZZ_CHUNK = 250  # graphs per test item, so a failure report names a small range of seeds


def pytest_addoption(parser):
    group = parser.getgroup("fuzz", "random op graphs (tests/test_fuzz.py)")
    group.addoption(
        "--fuzz-graphs", type=int, default=300, metavar="N", help="number of random op graphs to check (default: 300)"
    )
    group.addoption(
        "--fuzz-seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the first graph; graph k has seed S + k (default: 0)",
    )


def pytest_generate_tests(metafunc):
    if "fuzz_seeds" not in metafunc.fixturenames:
        return
    count = metafunc.config.getoption("fuzz_graphs")
    if count < 0:
        raise pytest.UsageError(f"--fuzz-graphs must be >= 0, got {count}")
    first = metafunc.config.getoption("fuzz_seed")
    chunks = [range(first + start, first + min(start + FUZZ_CHUNK, count)) for start in range(0, count, FUZZ_CHUNK)]
    metafunc.parametrize("fuzz_seeds", chunks, ids=[f"seeds{c.start}-{c.stop - 1}" for c in chunks])
