"""`python -m bench [--smoke]`: see bench.run."""

import sys

from bench.run import main

sys.exit(main())
