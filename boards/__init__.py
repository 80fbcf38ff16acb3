"""The board folders (board.py, hal.py, tolerances and phantom files), installed
as package data (stimbox.resources). Never part of a firmware image: a board's
image takes only the modules inside its own folder."""
