# Device side of tests/test_dsp_fixed_overflow.py: each case's int16 input
# (read in turn from data["src"]) through a one-channel fixed-point chain
# of its SOS rows (data["rows"]), written to data["dst"]; prints each case's
# quantized coefficients as a JSON list.
import json
from array import array

import devargs
from stimfw.dsp import fixed as d

cfg = devargs.data()
n = cfg["n"]
buf = array("h", bytearray(2 * n))
with open(cfg["src"], "rb") as f, open(cfg["dst"], "wb") as g:
    for r in cfg["rows"]:
        f.readinto(buf)
        ch = d.SweepChain(1, n, r)
        ch.process(buf)
        g.write(buf)
        print(json.dumps(list(ch.coef)))
