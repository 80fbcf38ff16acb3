# Device side of tests/test_monitoring_mp.py: the impedance request checks
# every electrode the board declares, and is refused while stimulating.
import board
from freerun_hal import BlockHal
from stimfw.amp.requests import impedance_request
from stimfw.core.errors import Refused
from stimfw.link import messages as m

hal = BlockHal()
r = impedance_request(hal, board, False, {"pairs": [["CP4", "Fz"]]})
assert r["pass"] and len(r["electrodes"]) == len(board.AMP_ELECTRODES)
assert r["electrodes"][0]["kohm"] == 2.0 and r["pairs"][0]["mismatch_kohm"] == 0
try:
    impedance_request(hal, board, True, {})  # while a run stimulates
    raise AssertionError("not refused")
except Refused as e:
    assert e.code == m.ERR_STATE
print("impedance request ok")
