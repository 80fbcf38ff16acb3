# Message types and error codes of the link protocol, shared by the device and
# the host. A request's type says what it asks for; its reply (OK or ERROR)
# carries the same type and request id. Control payloads are UTF-8 JSON
# objects; bulk payloads are binary (see docs/LINK.md).
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


# --- requests (host -> device); each gets exactly one reply -----------------
MSG_PING = const(0x01)  # {} -> {"t_ms": uptime}; cheapest round trip
MSG_INFO = const(0x02)  # {} -> firmware, board, protocol, limits, uptime, counters
MSG_ECHO = const(0x03)  # raw bytes -> the same bytes; link self-test
MSG_PULL = const(0x04)  # {"obj": name} -> DATA chunks, then {"obj","size","crc32"}
MSG_HEARTBEAT = const(0x05)  # {} -> {"state": ...}; keeps an armed unit armed
MSG_REBOOT = const(0x06)  # {} -> {} then the unit soft-resets
MSG_EVENTS = const(0x07)  # {"ack": seq} -> {"events": [...]}; safety event log
MSG_STAGE = const(0x08)  # raw: offset u32 + bytes -> {"size"}; a request too big
#                          for one frame is staged, then sent as {"staged": size}
MSG_RECORDS = const(0x09)  # {"since": seq, "ack": seq} -> one page of journal records
MSG_VALIDATE = const(0x10)  # protocol -> {"hash", "summary"} or ERR_LIMIT
MSG_PLAN = const(0x11)  # protocol -> compiled timeline (DATA) and figures
MSG_ARM = const(0x12)  # {"hash"} -> {"state": "ARMED"}
MSG_START = const(0x13)  # {} -> {"run": id}; progress and results follow as pushes
MSG_STOP = const(0x14)  # {} -> {"state": ...}; ends output within one pulse period
MSG_DISARM = const(0x15)  # {} -> {"state": "IDLE"}
MSG_STATUS = const(0x16)  # {} -> state, run progress
MSG_RESULT = const(0x17)  # {"run": id} -> results of a finished run
MSG_IMPEDANCE = const(0x18)  # {electrodes?, pairs?, max_kohm?, mismatch_kohm?} -> kOhm, pass/fail
MSG_FREERUN_START = const(0x19)  # {channels, rate_hz, block_ms, band|sos, thr_uv, ...} -> set-up
MSG_FREERUN_STOP = const(0x1A)  # {} -> free-run summary (counts, train time, last detections)
# {} -> the last pulse read back, raw: u16 length, a JSON head {"run", "pulse",
# "out", "rate_hz", "ua_lsb", "mv_lsb", "pre", "n"} ({"run": null} if none),
# then n int16 current, voltage pairs (docs/LINK.md)
MSG_TRACE = const(0x1B)
MSG_SIM = const(0x7F)  # sim-only requests; refused on boards

# --- pushes (device -> host, unsolicited, req_id 0) and error codes ---------
# Defined where the layers that emit them can import them; part of the wire.
from stimfw.core.errors import (  # noqa: E402, F401
    ERR_BAD_PAYLOAD,
    ERR_BUSY,
    ERR_INTERLOCK,
    ERR_INTERNAL,
    ERR_LIMIT,
    ERR_NOT_FOUND,
    ERR_NOT_OWNER,
    ERR_STATE,
    ERR_UNKNOWN_TYPE,
    ERR_UNSUPPORTED,
)
from stimfw.core.notices import (  # noqa: E402
    PUSH_ALARM,
    PUSH_BOOT,
    PUSH_EMG,
    PUSH_EVENT,
    PUSH_LOG,
    PUSH_MEP,
    PUSH_PROGRESS,
    PUSH_PULSE,
)

MSG_NAMES = {
    MSG_PING: "ping",
    MSG_INFO: "info",
    MSG_ECHO: "echo",
    MSG_PULL: "pull",
    MSG_HEARTBEAT: "heartbeat",
    MSG_REBOOT: "reboot",
    MSG_EVENTS: "events",
    MSG_STAGE: "stage",
    MSG_RECORDS: "records",
    MSG_VALIDATE: "validate",
    MSG_PLAN: "plan",
    MSG_ARM: "arm",
    MSG_START: "start",
    MSG_STOP: "stop",
    MSG_DISARM: "disarm",
    MSG_STATUS: "status",
    MSG_RESULT: "result",
    MSG_IMPEDANCE: "impedance",
    MSG_FREERUN_START: "freerun_start",
    MSG_FREERUN_STOP: "freerun_stop",
    MSG_TRACE: "trace",
    MSG_SIM: "sim",
    PUSH_BOOT: "boot",
    PUSH_EVENT: "event",
    PUSH_PROGRESS: "progress",
    PUSH_ALARM: "alarm",
    PUSH_PULSE: "pulse",
    PUSH_LOG: "log",
    PUSH_EMG: "emg",
    PUSH_MEP: "mep",
}

ERR_NAMES = {
    ERR_UNKNOWN_TYPE: "unknown_type",
    ERR_BAD_PAYLOAD: "bad_payload",
    ERR_LIMIT: "limit",
    ERR_STATE: "state",
    ERR_INTERLOCK: "interlock",
    ERR_NOT_FOUND: "not_found",
    ERR_BUSY: "busy",
    ERR_INTERNAL: "internal",
    ERR_UNSUPPORTED: "unsupported",
    ERR_NOT_OWNER: "not_owner",
}

# Bulk DATA chunks start with this header: byte offset of the chunk in the object.
DATA_HEADER = "<I"
DATA_HEADER_SIZE = const(4)
