"""``python -m reward``: the command line (see :mod:`reward.cli`)."""

import sys

from .cli import main

sys.exit(main())
