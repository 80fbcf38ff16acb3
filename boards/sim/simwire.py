# Wire format between the sim board's HAL (MicroPython, hal.py) and the
# hardware model in the simulator process (simunit/modelserver.py, CPython).
# Both sides import this file. It plays the part of a board's register map:
# fixed little-endian headers, so the device side packs and unpacks them in
# preallocated buffers and moves sample data straight into the caller's
# arrays without allocating.
#
# Request:  op u32, payload_len u32, now_us i64, a0 i64, a1 i64, a2 i64, payload
# Reply:    status i32, payload_len u32, now_us i64, value i64, now_ms i64,
#           now_ms_us i64, payload
# Every time on the wire is the device's: ticks, wrapped at the device's
# ticks period (sent with OP_HELLO), so the device never holds a number
# wider than its ticks (a heap object on a 32-bit port past 2**30). The
# model unwraps what it receives onto its own timeline (simunit/clock.py)
# and replies with its clock as the device's ticks_us, and as ticks_ms plus
# the us past that ms. value is a non-negative integer result. A reply with
# status ST_ERROR carries a UTF-8 message as its payload.
ENV_SOCKET = "STIMBOX_SIM_MODEL"

REQ_FMT = "<IIqqqq"
REQ_SIZE = 40
REP_FMT = "<iIqqqq"
REP_SIZE = 40

OP_HELLO = 1  # a0 = device ticks period; value = 1 when the model runs in real time
OP_SYNC = 2  # clock sync only
OP_SAFETY = 3  # value bit 0: interlock closed, bit 1: e-stop pressed
OP_OUTPUTS_OFF = 4
OP_FIRE = 5  # a0 = start (ticks us), a1 = pulse count, a2 = duration us; payload: columns
OP_FIRE_DONE = 6  # value 1 when the last timeline has ended or was aborted
OP_ABORT = 7
OP_MONITOR = 8  # a0 = pulse index, a1 = max samples per trace; value = samples; payload int16
OP_ACQUIRE = 9  # a0 = t0 (ticks us), a1 = rate Hz, a2 = samples per channel; payload: channel bytes
OP_IMPEDANCE = 10  # payload: electrode name; value = ohms
OP_SIM = 11  # payload: JSON request; reply payload: JSON
OP_WATCHDOG = 12  # a0 = timeout ms: start (or restart) the watchdog; 0 stops it
OP_WATCHDOG_FEED = 13
OP_FIRED = 14  # value = the output stage's count of pulses started, modulo 2**16

ST_OK = 0
ST_ERROR = 1

SAFETY_INTERLOCK = 1
SAFETY_ESTOP = 2
