"""The optional parts of an install (the extras in pyproject.toml) and the
one line that names the extra to install when a command needs a library
that is not there."""

from __future__ import annotations

import importlib.util

from stimbox.errors import StimBoxError

# extra -> the top-level modules it brings. numpy is also in the base install.
EXTRAS: dict[str, tuple[str, ...]] = {
    "sim": ("numpy",),
    "dsp": ("scipy",),
    "report": ("matplotlib", "edfio"),
}


class MissingExtraError(StimBoxError):
    """A command needs a library of an extra that is not installed."""


def extra_of(module: str) -> str | None:
    top = module.split(".")[0]
    return next((extra for extra, mods in EXTRAS.items() if top in mods), None)


def _install_hint(extra: str) -> str:
    return f"pip install 'stimbox[{extra}]'"


def require(extra: str, what: str) -> None:
    """Raise MissingExtraError naming the extra when any of its libraries is
    missing: called first by a command that would otherwise fail late."""
    missing = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f"{what} needs {', '.join(missing)} (the {extra} extra): "
                                + _install_hint(extra))


def explain(e: BaseException) -> BaseException:
    """A ModuleNotFoundError for a library of an extra as MissingExtraError;
    any other exception as it is."""
    if isinstance(e, ModuleNotFoundError) and e.name:
        extra = extra_of(e.name)
        if extra is not None:
            top = e.name.split(".")[0]
            return MissingExtraError(f"{top} is not installed; it comes with the {extra} extra: "
                                     + _install_hint(extra))
    return e
