"""jit: compile a training step into one generated NumPy program.

The first call of a signature runs the step eagerly while recording every NumPy call that the
ops' own forward and backward make (traced.py, recorder.py, capture.py); the calls become one
Python function with shapes fixed and the time steps of recurrent layers rolled into loops
(program.py, rolling.py, render.py). Later calls run that function. Nothing is differentiated
here: every derivative in a program is a call some op's backward made.
"""

from .function import CompiledStep, JitFallbackWarning, compiling, eager_steps, jit
from .recorder import JitError

__all__ = ["CompiledStep", "JitError", "JitFallbackWarning", "compiling", "eager_steps", "jit"]
