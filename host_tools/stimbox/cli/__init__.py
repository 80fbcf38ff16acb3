"""The `stimbox` command line (entry point stimbox.cli:main)."""

from stimbox.cli.app import main
from stimbox.cli.commands.plan import print_plan  # the demo prints a plan as `stimbox plan` does

__all__ = ["main", "print_plan"]
