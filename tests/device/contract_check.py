# Device side of tests/test_board_contract.py, under the real MicroPython.
# data: {"calls": {name: number of arguments}, "board": true to check the
# board's hal.py too}. Prints one JSON object:
#   "dir": the contract's public names as MicroPython sees them;
#   "bare": per call, what a Hal subclass that overrides nothing does:
#           ["ok", type of the result], ["NotProvided", message],
#           ["Unsupported", message] or [other exception type, message];
#   "board": {"subclass": bool, "overridden": [calls the board overrides]},
#            or {"import_error": message} when hal.py cannot load here.
import json

import devargs
from stimfw import hal_api

cfg = devargs.data()
calls = cfg["calls"]


class Bare(hal_api.Hal):
    pass


def outcome(fn, n):
    try:
        r = fn(*([0] * n))
    except hal_api.NotProvided as e:
        return ["NotProvided", str(e)]
    except hal_api.Unsupported as e:
        return ["Unsupported", str(e)]
    except Exception as e:  # reported to the test, which fails on it
        return [type(e).__name__, str(e)]
    return ["ok", type(r).__name__]


out = {"dir": [n for n in dir(hal_api.Hal) if not n.startswith("_")]}
bare = Bare()
out["bare"] = {name: outcome(getattr(bare, name), n) for name, n in calls.items()}
if cfg["board"]:
    try:
        import hal
    except ImportError as e:
        out["board"] = {"import_error": str(e)}
    else:
        base = hal_api.Hal
        out["board"] = {
            "subclass": issubclass(hal.Hal, base),
            "overridden": [n for n in calls if getattr(hal.Hal, n) is not getattr(base, n)],
        }
print(json.dumps(out))
