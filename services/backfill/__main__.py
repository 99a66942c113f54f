"""`python -m services.backfill`: import a platform export (see :mod:`services.backfill.cli`)."""

import sys

from services.backfill.cli import main

if __name__ == "__main__":
    sys.exit(main())
