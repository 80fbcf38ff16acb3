# Device side of tests/test_safety_fuzz.py: each byte stream (data: a list of
# hex strings) goes through the real link and handlers of a fresh unit with
# the interlock closed. Prints, per stream, the worst state reached, the
# number of fire() calls, and whether the stream was read to its end.
import binascii
import gc
import json

import devargs
from loadmodel import make_app

out = []
for hx in devargs.data():
    app, host = make_app()
    app.hal.console.feed(binascii.unhexlify(hx))
    worst = "IDLE"
    for _ in range(400):
        app.step()
        st = app.supervisor.state
        if st in ("ARMED", "STIMULATING"):
            worst = st
        if (app.hal.console.pos >= len(app.hal.console.rx) or app.link.interrupted) and not app.link.transfer:
            break
    # Everything read, or the stream held a Ctrl-C (0x03): the link hands
    # the console back to the REPL and reads no further.
    done = app.hal.console.pos == len(app.hal.console.rx) or app.link.interrupted
    out.append([worst, len(app.hal.fires), done])
    del app, host
    gc.collect()  # one unit at a time: the previous one's heap is free again
print(json.dumps(out))
