"""Reading the validation's own TOML files (phantom, tolerances): whatever
is wrong with one is a single line naming the file, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from stimbox.errors import StimBoxError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read(path: Path, what: str) -> dict[str, Any]:
    """The parsed file; `what` names it in an error ("the phantom file")."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise StimBoxError(f"{path}: cannot read {what}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise StimBoxError(f"{path}: {what} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise StimBoxError(f"{path}: not valid TOML: {e}") from None
