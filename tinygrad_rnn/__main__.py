"""`python -m tinygrad_rnn`."""

import sys

from .cli import main

sys.exit(main())
