# Device side of tests/test_sim_hal.py: constructing the Hal, which needs the
# hardware model's socket.
from hal import Hal

Hal()
