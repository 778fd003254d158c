"""tinygrad_rnn: reverse-mode autodiff over NumPy, and recurrent networks trained by it.

Backpropagation through time is not written by hand here: an RNN is ordinary code over
Tensor ops, its unrolled graph is recorded as it runs, and backward() walks it.
"""
from .autograd import detect_anomaly, enable_grad, is_grad_enabled, no_grad, retain_grads, scope
from .gradcheck import GradcheckError, GradcheckReport, directional_gradcheck, gradcheck
from .tensor import Tensor, concatenate, ones, stack, zeros

__all__ = [
    "Tensor", "stack", "concatenate", "zeros", "ones",
    "no_grad", "enable_grad", "is_grad_enabled", "scope", "detect_anomaly", "retain_grads",
    "gradcheck", "directional_gradcheck", "GradcheckError", "GradcheckReport",
]
__version__ = "0.1.0"
