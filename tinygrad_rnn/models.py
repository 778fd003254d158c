"""The documents' network shape as one module: a recurrent layer and a linear read-out."""

from __future__ import annotations

from . import nn
from .tensors import DEFAULT_DTYPE, Tensor

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class SequenceModel(nn.Module):
    """x (B, T, input_size) -> recurrent layer -> Linear on h_t.

    many_to_many=False: y = Linear(h_T), shape (B, output_size) (documents 000, 003, 004);
    many_to_many=True:  y_t = Linear(h_t) at every step, shape (B, T, output_size) (document 001).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        cell: str = "rnn",
        num_layers: int = 1,
        many_to_many: bool = False,
        nonlinearity: str = "tanh",
        bias: bool = True,
        dtype=DEFAULT_DTYPE,
        rng=None,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"SequenceModel: unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
        options = dict(num_layers=num_layers, bias=bias, batch_first=True, dtype=dtype, rng=rng)
        if cell == "rnn":
            options["nonlinearity"] = nonlinearity
        self.cell = cell
        self.many_to_many = many_to_many
        self.rnn = CELLS[cell](input_size, hidden_size, **options)
        self.head = nn.Linear(hidden_size, output_size, bias=bias, dtype=dtype, rng=rng)

    def forward(self, x) -> Tensor:
        output, _ = self.rnn(x)
        if self.many_to_many:
            return self.head(output)
        last = output[:, -1] if output.ndim == 3 else output[-1]
        return self.head(last)
