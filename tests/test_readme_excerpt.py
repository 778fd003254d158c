"""The README's excerpt of a compiled program is the program jit writes for the `long` benchmark."""

import re
from pathlib import Path

from benchmarks.bench_bptt import CONFIGS, TinygradJit, make_problem

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_line_of_the_readme_excerpt_is_in_the_long_program():
    text = README.read_text()
    section = text[text.index("An excerpt of the program for the `long` benchmark") :]
    excerpt = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    lines = [line.split("  #")[0].strip() for line in excerpt.splitlines()]
    lines = [line for line in lines if line and line != "..."]
    contender = TinygradJit(make_problem(CONFIGS["long"]))
    contender.step()
    program = [line.split("  #")[0].strip() for line in contender.compiled.source.splitlines()]
    assert len(lines) > 10
    assert [line for line in lines if line not in program] == []
    rest = iter(program)  # and in the program's order
    assert all(any(line == made for made in rest) for line in lines)
    stated = re.search(r"the program has (\d+) lines at\s+T = 200 and at T = 2000", section)
    assert int(stated.group(1)) == len(contender.compiled.source.splitlines())
