# Device side of tests/test_board_contract.py: a sim request to a unit whose
# HAL has no sim() (the load model inherits the contract's default), through
# the real link; prints the reply [ok, body] as JSON.
import json

from loadmodel import make_app
from stimfw.link import messages as m

app, host = make_app()
print(json.dumps(host.request(m.MSG_SIM, {"estop": True})))
