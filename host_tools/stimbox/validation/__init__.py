"""Bench validation of a unit into a phantom load, and its report
(docs/VALIDATION.md): `run_validation(box, phantom, out_dir)`, also
`StimBox.validate(...)` and `stimbox validate`."""

from stimbox.validation.phantom import Phantom
from stimbox.validation.suite import run_validation

__all__ = ["Phantom", "run_validation"]
