"""`python -m stimbox.cli`, as the `stimbox` script."""

import sys

from stimbox.cli.app import main

sys.exit(main())
