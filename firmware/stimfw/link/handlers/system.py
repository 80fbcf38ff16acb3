# Link requests that belong to the unit as a whole: identity, liveness, link
# self-tests, bulk pulls of named objects, reboot, and the simulated unit's
# control requests.
import gc

from stimfw.core import buildinfo, runtime
from stimfw.core.errors import ERR_BAD_PAYLOAD, ERR_UNSUPPORTED, Refused, need
from stimfw.dsp import backend as dsp_backend
from stimfw.hal_api import Unsupported
from stimfw.link import codec as lc
from stimfw.link import messages as m
from stimfw.link.endpoint import BULK_CHUNK, MAX_REQUEST_PAYLOAD, MAX_STAGED, RX_WINDOW
from stimfw.link.testpattern import test_pattern

# Largest test pattern a host may pull; sized to fit the smallest MCU heap.
MAX_TEST_PATTERN = 16384


def identity(bd):
    fw = buildinfo.info()
    return {
        "fw": fw["version"],
        "build": fw["build"],
        "build_ok": fw["build_ok"],
        "board": bd.NAME,
        "protocol": lc.PROTOCOL_VERSION,
    }


def largest_free_block(free):
    """Bytes of the largest block the heap can give now (to 64 B), found
    by trying: how fragmented the free heap is, which gc.mem_free() does
    not say."""
    lo, hi = 0, free
    while hi - lo > 64:
        mid = (lo + hi) // 2
        try:
            b = bytearray(mid)
        except MemoryError:
            hi = mid
            continue
        del b
        lo = mid
    return lo


class SystemRequests:
    def __init__(self, link, hal, bd, uptime_ms, objects, longest_pass_ms):
        self.link = link
        self.hal = hal
        self.bd = bd
        self.uptime_ms = uptime_ms
        self.longest_pass_ms = longest_pass_ms
        self.objects = objects
        self.pattern = b""
        self.reboot_requested = False
        link.handle(m.MSG_PING, self.ping)
        link.handle(m.MSG_INFO, self.info)
        link.handle(m.MSG_ECHO, self.echo, raw=True)
        link.handle(m.MSG_STAGE, link.stage, raw=True)
        link.handle(m.MSG_PULL, self.pull)
        link.handle(m.MSG_REBOOT, self.reboot)
        link.handle(m.MSG_SIM, self.sim)

    def ping(self, req, rid):
        return {"t_ms": self.uptime_ms()}

    def info(self, req, rid):
        d = identity(self.bd)
        d["firmware"] = buildinfo.info()
        d["uptime_ms"] = self.uptime_ms()
        d["loop_max_ms"] = self.longest_pass_ms()
        d["limits"] = self.bd.LIMITS_PROFILE
        d["calibrator"] = self.bd.CALIBRATOR
        d["runtime"] = runtime.info()
        d["dsp_backend"] = dsp_backend.NAME
        d["dsp_backend_reason"] = dsp_backend.REASON
        d["link"] = self.link.counters()
        d["rx_window"] = RX_WINDOW
        d["max_request"] = MAX_REQUEST_PAYLOAD
        d["max_staged"] = MAX_STAGED
        d["bulk_chunk"] = BULK_CHUNK
        gc.collect()
        d["heap_free"] = gc.mem_free()
        d["heap_used"] = gc.mem_alloc()
        d["heap_largest"] = largest_free_block(d["heap_free"])
        return d

    def echo(self, payload, rid):
        return bytes(payload)

    def pull(self, req, rid):
        name = req.get("obj")
        if name == "test_pattern":
            size = req.get("size", 4096)
            if not isinstance(size, int):
                raise Refused(ERR_BAD_PAYLOAD, "test_pattern size %r is not an integer" % (size,))
            need("test_pattern_size", size, 0, MAX_TEST_PATTERN, "B")
            # Kept between pulls so that repeated pulls measure the link, not
            # the pattern generator; the old one goes before the new is made.
            if len(self.pattern) != size:
                self.pattern = b""
                gc.collect()
                self.pattern = test_pattern(size)
                # The generator's garbage (a big int per sample on a 32-bit
                # port) goes now: left until the next request, it would push
                # that request's objects up into the free top of the heap,
                # splitting the room a large pattern needs.
                gc.collect()
            data = self.pattern
        else:
            data = self.objects.get(name)
        self.link.start_transfer(rid, m.MSG_PULL, name, data)
        return None

    def reboot(self, req, rid):
        self.reboot_requested = True
        return {}

    def sim(self, req, rid):
        # Sim-only control (interlock, e-stop, loads, scenario, ground truth)
        # goes to the hardware model; a board refuses it (stimfw.hal_api).
        try:
            return self.hal.sim(req)
        except Unsupported as e:
            raise Refused(ERR_UNSUPPORTED, str(e)) from None
        except ValueError as e:
            raise Refused(ERR_BAD_PAYLOAD, str(e)) from None
