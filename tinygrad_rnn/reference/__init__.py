"""The four source documents' Elman RNNs and backpropagation through time, corrected, in plain NumPy.

One module per document: timeseries (000), weather (001), sentiment (003), sine (004). Each
`*_bptt` returns exact gradients, checked against finite differences in the tests; each
`*_as_published` reproduces the document's own formulas, mistakes included, for comparison.
"""

from .sentiment import sentiment_bptt, sentiment_bptt_as_published, sentiment_forward, sgd_step, sgd_step_as_published
from .sine import sine_bptt, sine_forward
from .timeseries import init_weights, timeseries_bptt, timeseries_bptt_as_published, timeseries_forward
from .weather import (
    sequence_bptt,
    sequence_forward,
    walkthrough_bptt,
    walkthrough_bptt_as_published,
    walkthrough_forward,
    walkthrough_params,
)

__all__ = [
    "timeseries_forward",
    "timeseries_bptt",
    "timeseries_bptt_as_published",
    "init_weights",
    "walkthrough_params",
    "walkthrough_forward",
    "walkthrough_bptt",
    "walkthrough_bptt_as_published",
    "sequence_forward",
    "sequence_bptt",
    "sentiment_forward",
    "sentiment_bptt",
    "sentiment_bptt_as_published",
    "sgd_step",
    "sgd_step_as_published",
    "sine_forward",
    "sine_bptt",
]
