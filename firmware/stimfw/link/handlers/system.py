# Request handlers of the link that belong to no other module: identity,
# liveness, link self-tests, reboot and bulk pulls of named objects.
# Modules with requests of their own (sequencer, safety, acquisition)
# register them in their own files.
import gc

import board

from stimfw.core import buildinfo, runtime
from stimfw.dsp import backend as dsp_backend
from stimfw.link import codec as lc
from stimfw.link import messages as m
from stimfw.link.endpoint import (
    BULK_CHUNK,
    MAX_REQUEST_PAYLOAD,
    MAX_STAGED,
    RX_WINDOW,
    RequestError,
)
from stimfw.link.testpattern import test_pattern

# Largest test pattern a host may pull; sized to fit the smallest MCU heap.
MAX_TEST_PATTERN = 16384


def identity():
    fw = buildinfo.info()
    return {
        "fw": fw["version"],
        "build": fw["build"],
        "build_ok": fw["build_ok"],
        "board": board.NAME,
        "protocol": lc.PROTOCOL_VERSION,
    }


def register(app):
    link = app.link
    objects = {}  # name -> bytes-like; what MSG_PULL can fetch
    sources = {}  # "prefix" -> fn(rest of the name) -> bytes or None, for "prefix/..."
    app.object_sources = sources
    pattern = [b""]
    app.objects = objects

    def ping(req, rid):
        return {"t_ms": app.uptime_ms()}

    def info(req, rid):
        d = identity()
        d["firmware"] = buildinfo.info()
        d["uptime_ms"] = app.uptime_ms()
        d["limits"] = getattr(board, "LIMITS_PROFILE", None)
        d["runtime"] = runtime.info()
        d["dsp_backend"] = dsp_backend.NAME
        if getattr(dsp_backend, "REASON", None) is not None:
            d["dsp_backend_reason"] = dsp_backend.REASON
        d["link"] = link.counters()
        d["rx_window"] = RX_WINDOW
        d["max_request"] = MAX_REQUEST_PAYLOAD
        d["max_staged"] = MAX_STAGED
        d["bulk_chunk"] = BULK_CHUNK
        gc.collect()
        d["heap_free"] = gc.mem_free()
        d["heap_used"] = gc.mem_alloc()
        return d

    def echo(payload, rid):
        return bytes(payload)

    def pull(req, rid):
        name = req.get("obj")
        if name == "test_pattern":
            size = req.get("size", 4096)
            if not isinstance(size, int) or not 0 <= size <= MAX_TEST_PATTERN:
                raise RequestError(
                    m.ERR_BAD_PAYLOAD,
                    "test_pattern size %r outside 0..%d" % (size, MAX_TEST_PATTERN),
                )
            # Kept between pulls so that repeated pulls measure the link, not
            # the pattern generator; the old one goes before the new is made.
            if len(pattern[0]) != size:
                pattern[0] = b""
                gc.collect()
                pattern[0] = test_pattern(size)
            data = pattern[0]
        elif name in objects:
            data = objects[name]
        elif isinstance(name, str) and name.split("/")[0] in sources:
            prefix, _, rest = name.partition("/")
            data = sources[prefix](rest)
            if data is None:
                raise RequestError(m.ERR_NOT_FOUND, "no object %r" % name)
        else:
            raise RequestError(
                m.ERR_NOT_FOUND, "no object %r; have %s" % (name, sorted(objects) + ["test_pattern"])
            )
        link.start_transfer(rid, m.MSG_PULL, name, data)
        return None

    def reboot(req, rid):
        app.reboot_requested = True
        return {}

    def sim(req, rid):
        # Sim-only control (interlock, e-stop, loads, scenario, ground truth)
        # goes to the hardware model; a board has no such thing.
        fn = getattr(app.hal, "sim", None)
        if fn is None:
            raise RequestError(m.ERR_UNSUPPORTED, "sim requests need a simulated unit")
        try:
            return fn(req)
        except ValueError as e:
            raise RequestError(m.ERR_BAD_PAYLOAD, str(e)) from None

    link.handle(m.MSG_PING, ping)
    link.handle(m.MSG_SIM, sim)
    link.handle(m.MSG_INFO, info)
    link.handle(m.MSG_ECHO, echo, raw=True)
    link.handle(m.MSG_STAGE, link.stage, raw=True)
    link.handle(m.MSG_PULL, pull)
    link.handle(m.MSG_REBOOT, reboot)
