# Device side of tests/test_sim_hal.py: ground truth and scenario control
# through sim(). Prints "key value" lines.
import json

from simhal import setup

h, tl = setup()
r = h.sim({"scenario": "cord_ischaemia", "seed": 11, "advance_s": 130, "groundtruth": True})
print("gt", json.dumps(r["groundtruth"]["insults"][0]))
h.sim({"estop": True, "interlock": False})
print("safety", h.estop_pressed(), h.interlock_closed())
