# What the unit tells the host unasked. Lower layers emit a notice with
# push(kind, payload); the link sends it as a push frame of that kind.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


PUSH_BOOT = const(0x80)  # the firmware started: {"fw", "build", "board"}
PUSH_EVENT = const(0x81)  # a safety log entry was recorded
PUSH_PROGRESS = const(0x82)  # run progress: {"run", "done", "total", ...}
PUSH_ALARM = const(0x83)  # an alarm criterion was met, with its values
PUSH_PULSE = const(0x84)  # per-pulse delivery records
PUSH_LOG = const(0x85)  # free text from the firmware, for humans
PUSH_EMG = const(0x86)  # free-run detections of one block, counts; "done" ends the stream
PUSH_MEP = const(0x87)  # one TcMEP trial: each muscle's onset, peak-to-peak, area (journaled)
