"""``python -m sim`` runs the baasim command line."""

import sys

from sim.cli import main

sys.exit(main())
