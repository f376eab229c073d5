"""``python -m experiments.report PATH... [-o OUT]``."""

import sys

from .write import main

sys.exit(main())
