# Device side of tests/test_safety_fuzz.py: the harness can see an arm (a
# validate, then an arm carrying the hash the unit answered with).
import json

from loadmodel import make_app
from stimfw.link import messages as m

app, host = make_app()
h = host.ok(m.MSG_VALIDATE, {"type": "tcmep"})["hash"]
host.ok(m.MSG_ARM, {"hash": h})
print(json.dumps(app.supervisor.state))
