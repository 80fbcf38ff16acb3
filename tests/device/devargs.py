# The parameters of a device script, as tests/mpy.py run_mp_file passes
# them: plain arguments in sys.argv, and a JSON value (data=...) in a file
# named by $STIMBOX_DEVICE_DATA.
import json
import os
import sys


def data(default=None):
    """The JSON value the test passed as data=, or default if it passed none."""
    path = os.getenv("STIMBOX_DEVICE_DATA")
    if not path:
        return default
    with open(path) as f:
        return json.load(f)


def arg(i):
    """Plain argument i (from 0), a string."""
    return sys.argv[i + 1]
