# Device side of the DSP tests: the parameters of this run, from the JSON
# file named by $STIMBOX_DSP_PARAMS (written by tests/dsp_reference.py),
# and the backend module a run asks for.
import json
import os

ENV = "STIMBOX_DSP_PARAMS"


def load():
    with open(os.getenv(ENV)) as f:
        return json.load(f)


def backend(name):
    """"fixed", "ulab", or "auto" (what stimfw.dsp.backend picks)."""
    if name == "fixed":
        from stimfw.dsp import fixed as m
    elif name == "ulab":
        from stimfw.dsp import ulab as m
    else:
        from stimfw.dsp import backend as b

        m = b.impl
    return m


class Amp:
    """The amplifier declarations SweepProcessor reads from a board, as the
    run's parameters give them (the simulated board's, from the host)."""

    def __init__(self, d):
        self.AMP_RATES_HZ = tuple(d["AMP_RATES_HZ"])
        self.AMP_CHANNELS = d["AMP_CHANNELS"]
        self.AMP_UV_PER_LSB = d["AMP_UV_PER_LSB"]
