"""The host API: one StimBox object per connected unit.

    with StimBox.connect("/dev/ttyACM0") as box:
        print(box.info())

Requests go one at a time (the unit's stdin buffer is small); pushes that
arrive meanwhile are queued in `box.pushes` and handed to `on_push`.

Exclusive control: ARM answers with a session token, which this object
keeps and sends with START, HEARTBEAT, DISARM and STOP; until the unit
disarms, another host (another StimBox, any program on the port) cannot
START, HEARTBEAT, DISARM or ARM it, only STOP it (docs/SAFETY.md), nor
acknowledge journal records.
"""

from __future__ import annotations

import json
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stimfw.link import codec as lc
from stimfw.link import messages as m

from stimbox import discovery
from stimbox.errors import DeviceError, LimitError, LinkError, ReplyTimeout, UnitReset
from stimbox.transport import CTRL_B, CTRL_C, CTRL_D, SerialTransport, Transport

if TYPE_CHECKING:
    from stimbox.api import MepResult, PulseRun, SsepResult, ThresholdResult

DEFAULT_TIMEOUT = 2.0
# A rebooting unit: process restart (sim) or soft reset (board) plus imports.
BOOT_TIMEOUT = 15.0
# A unit that did not answer the first ping may be booting: how long to wait
# for its boot push before taking it for a REPL.
BOOT_GRACE_S = 2.0
HOST_MAX_PAYLOAD = 65535


@dataclass
class Push:
    mtype: int
    name: str
    data: Any  # decoded JSON, or bytes for binary pushes


def join_parts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records as the unit pages them, with every record that spans several
    journal slots made whole again: its head (a "parts" count and the first
    part's "text") becomes the record, with "parts"; each further slot stays
    a {"seq", "type": "part", "of", "part"} entry (of: the head's seq), so the sequence numbers
    stay one gap-free series. A record whose parts are not all there (a
    crash cut its writing) comes as {"seq", "type", "incomplete"}."""
    out: list[dict[str, Any]] = []
    texts: dict[int, list[str]] = {}
    heads: dict[int, int] = {}
    for r in records:
        if r["type"] == "part":
            of = r["seq"] - r["part"]  # the record's head
            t = texts.get(of)
            if t is not None and len(t) == r["part"]:
                t.append(r["text"])
            out.append({"seq": r["seq"], "type": "part", "of": of, "part": r["part"]})
        elif "parts" in r and "text" in r:
            texts[r["seq"]] = [r["text"]]
            heads[r["seq"]] = len(out)
            out.append(r)
        else:
            out.append(r)
    for seq, i in heads.items():
        head = out[i]
        t = texts[seq]
        try:
            whole = json.loads("".join(t)) if len(t) == head["parts"] else None
        except ValueError:
            whole = None
        if isinstance(whole, dict):
            whole.update(seq=seq, type=head["type"], parts=head["parts"])
            out[i] = whole
        else:
            out[i] = {"seq": seq, "type": head["type"],
                      "incomplete": f"{len(t)} of {head['parts']} parts readable"}
    return out


@dataclass
class RecordPage:
    """One page of the unit's journal (MSG_RECORDS): records after a
    sequence number, each a dict with "seq" and "type" ("event", "pulses",
    "result", "segment" (write-ahead: a segment handed to the output stage),
    "part" (a further slot of the record at "of"), or "missing" for one lost
    to a crash or an overflow). A record longer than a slot comes as its
    head (with "parts" and "text") and its parts, unjoined."""

    records: list[dict[str, Any]]
    next: int  # ask from here for the next page
    more: bool
    first_seq: int  # the oldest record the ring still holds
    last_seq: int
    acked: int
    lost: int  # unacknowledged records the ring overwrote since boot


def reset_text(boot: dict[str, Any]) -> str:
    """A boot push's reset cause, for humans: "crash (killed by SIGKILL),
    was STIMULATING run 3"."""
    r = boot.get("reset") or {}
    text = str(r.get("cause", "unknown"))
    if r.get("detail"):
        text += f" ({r['detail']})"
    if r.get("before"):
        text += f", was {r['before']}"
    return text


class StimBox:
    def __init__(self, transport: Transport, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.transport = transport
        self.timeout = timeout
        self.pushes: deque[Push] = deque(maxlen=10000)
        self.on_push: Callable[[Push], None] | None = None
        self._frames: deque[lc.Frame] = deque()
        self._decoder = lc.Decoder(HOST_MAX_PAYLOAD, self._frames.append, copy_payload=True)
        self._next_id = 1
        self.rx_window = 512
        self.max_request = 480
        # The session this host holds on the unit (from ARM), if any.
        self.token: str | None = None
        self.session: str | None = None
        # The last boot push seen (identity, reset cause, journal seq), and
        # whether one came since the last request was sent.
        self.last_boot: dict[str, Any] | None = None
        self.rebooted = False

    # --- connecting ---------------------------------------------------------
    @classmethod
    def connect(
        cls, port: str | None = None, timeout: float = DEFAULT_TIMEOUT, take_control: bool = True
    ) -> StimBox:
        """Open the unit on `port` ("auto" or None: find one).

        If the unit sits at its REPL (after mpremote, or a fresh board), it is
        rebooted into the firmware unless take_control is False."""
        port = discovery.resolve(port)
        box = cls(SerialTransport(port), timeout)
        try:
            box._hello(take_control)
        except BaseException:
            box.close()
            raise
        return box

    def _hello(self, take_control: bool) -> None:
        try:
            self.ping(timeout=0.5)
        except UnitReset:
            pass  # it has just booted: it is running the firmware
        except ReplyTimeout:
            if not self._booting():
                if not take_control:
                    raise LinkError(
                        f"{self.port}: the unit does not answer the link (not running the firmware?)"
                    ) from None
                self.reboot_from_repl()
        lim = self.request(m.MSG_INFO)
        self.rx_window = lim.get("rx_window", self.rx_window)
        self.max_request = lim.get("max_request", self.max_request)

    def _booting(self) -> bool:
        """After an unanswered ping: a unit in the middle of a reset drops
        what was sent before its boot, so give it BOOT_GRACE_S to send its
        boot push (or answer a second ping) before taking it for a REPL and
        interrupting a firmware that has just started."""
        try:
            self.wait_boot(BOOT_GRACE_S)
            return True
        except LinkError:
            pass
        try:
            self.ping(timeout=0.5)
        except UnitReset:
            pass  # its boot push came first: it has just started
        except ReplyTimeout:
            return False
        return True

    def reboot_from_repl(self) -> None:
        """Bring a unit that sits at its REPL (raw or friendly) back into the
        firmware: interrupt, leave raw REPL, soft-reset, wait for the boot."""
        t = self.transport
        t.write(b"\r" + CTRL_C + CTRL_C)
        t.drain(0.1)
        t.write(b"\r" + CTRL_B)
        t.drain(0.1)
        t.write(CTRL_D)
        self.wait_boot()

    def wait_boot(self, timeout: float = BOOT_TIMEOUT) -> dict[str, Any]:
        """Wait for the firmware's boot push; returns its identity."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.poll(min(0.2, deadline - time.monotonic())):
                if p.mtype == m.PUSH_BOOT:
                    return p.data
        raise LinkError(
            f"{self.port}: the StimBox firmware did not start within {timeout:.0f} s "
            "(a unit with no firmware needs `stimbox deploy`)"
        )

    @property
    def port(self) -> str:
        return getattr(self.transport, "port", "?")

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> StimBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- frames -------------------------------------------------------------
    def _pump(self, timeout: float) -> bool:
        data = self.transport.read(timeout)
        if data:
            self._decoder.feed(data)
        return bool(data)

    def poll(self, timeout: float) -> list[Push]:
        """Read for up to timeout; return (and queue) the pushes that came."""
        self._pump(max(timeout, 0))
        got = []
        while self._frames:
            f = self._frames.popleft()
            if f.kind == lc.KIND_PUSH:
                got.append(self._deliver_push(f))
        return got

    def _deliver_push(self, f: lc.Frame) -> Push:
        try:
            data: Any = json.loads(f.payload)
        except ValueError:
            data = bytes(f.payload)
        p = Push(f.mtype, m.MSG_NAMES.get(f.mtype, str(f.mtype)), data)
        if p.mtype == m.PUSH_BOOT and isinstance(data, dict):
            self.last_boot = data
            self.rebooted = True
        self.pushes.append(p)
        if self.on_push is not None:
            self.on_push(p)
        return p

    def send(self, mtype: int, payload: bytes = b"") -> int:
        """Send one request frame; returns its request id."""
        if len(payload) > self.max_request:
            raise LinkError(
                f"request payload of {len(payload)} bytes exceeds the unit's "
                f"{self.max_request}-byte limit"
            )
        rid = self._next_id
        self._next_id = rid % 0xFFFF + 1
        self.rebooted = False
        frame = lc.encode_frame(lc.KIND_REQUEST, mtype, rid, payload)
        if len(frame) > self.rx_window:
            # Stuffing can double a payload; the unit's stdin must not overflow.
            raise LinkError(
                f"request frame of {len(frame)} bytes on the wire exceeds the unit's "
                f"{self.rx_window}-byte receive window"
            )
        self.transport.write(frame)
        return rid

    def wait_reply(
        self,
        rid: int,
        mtype: int,
        timeout: float,
        on_data: Callable[[lc.Frame], None] | None = None,
    ) -> lc.Frame:
        """Wait for the reply to request rid; bulk DATA for it goes to on_data
        and every DATA frame restarts the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            while self._frames:
                f = self._frames.popleft()
                if f.kind == lc.KIND_PUSH:
                    self._deliver_push(f)
                    if f.mtype == m.PUSH_BOOT and self.last_boot is not None:
                        # A reboot loses the request in flight: say so now
                        # rather than wait out the timeout.
                        raise self.reset_error(f"while waiting for {m.MSG_NAMES.get(mtype, mtype)}")
                elif f.req_id != rid:
                    continue  # a late reply to a request we gave up on
                elif f.kind == lc.KIND_DATA:
                    if on_data is None:
                        raise LinkError("unexpected bulk data in reply")
                    on_data(f)
                    deadline = time.monotonic() + timeout
                elif f.kind in (lc.KIND_OK, lc.KIND_ERROR):
                    return f
            left = deadline - time.monotonic()
            if left <= 0:
                raise ReplyTimeout(
                    f"{self.port}: no reply to {m.MSG_NAMES.get(mtype, mtype)} within {timeout:.1f} s"
                )
            self._pump(min(left, 0.1))

    def request_raw(
        self,
        mtype: int,
        payload: bytes = b"",
        timeout: float | None = None,
        on_data: Callable[[lc.Frame], None] | None = None,
    ) -> bytes:
        rid = self.send(mtype, payload)
        f = self.wait_reply(rid, mtype, timeout or self.timeout, on_data)
        if f.kind == lc.KIND_ERROR:
            raise _device_error(f.payload)
        return bytes(f.payload)

    def request(self, mtype: int, args: dict[str, Any] | None = None, **kw: Any) -> Any:
        payload = json.dumps(args, separators=(",", ":")).encode() if args else b""
        if len(payload) > self.max_request:
            # Too big for one frame: stage it on the unit, then refer to it.
            self._stage(payload)
            payload = json.dumps({"staged": len(payload)}).encode()
        reply = self.request_raw(mtype, payload, **kw)
        return json.loads(reply) if reply else {}

    def _stage(self, data: bytes) -> None:
        off = 0
        while off < len(data):
            n = self.max_request - 4
            # Stuffing may grow a frame: shrink the chunk until it fits the window.
            while True:
                chunk = struct.pack("<I", off) + data[off : off + n]
                if len(lc.encode_frame(lc.KIND_REQUEST, m.MSG_STAGE, 0, chunk)) <= self.rx_window:
                    break
                n //= 2
            self.request_raw(m.MSG_STAGE, chunk)
            off += n

    def reset_error(self, when: str) -> UnitReset:
        """UnitReset for the last boot push, naming its reset cause."""
        boot = self.last_boot or {}
        r = boot.get("reset") or {}
        return UnitReset(
            f"{self.port}: the unit rebooted {when}: reset cause {reset_text(boot)}",
            cause=str(r.get("cause", "unknown")), detail=r.get("detail"), before=r.get("before"),
            seq=boot.get("seq"),
        )

    # --- requests -----------------------------------------------------------
    def ping(self, timeout: float | None = None) -> dict[str, Any]:
        return self.request(m.MSG_PING, timeout=timeout)

    def info(self) -> dict[str, Any]:
        d = self.request(m.MSG_INFO)
        d["port"] = self.port
        return d

    def echo(self, data: bytes) -> bytes:
        return self.request_raw(m.MSG_ECHO, data)

    def pull(self, obj: str, **args: Any) -> bytes:
        """Fetch a named object from the unit as bytes, checking its CRC."""
        buf = bytearray()

        def on_data(f: lc.Frame) -> None:
            (offset,) = struct.unpack_from(m.DATA_HEADER, f.payload)
            if offset != len(buf):
                raise LinkError(f"bulk transfer of {obj!r} lost data at byte {len(buf)}")
            buf.extend(f.payload[m.DATA_HEADER_SIZE :])

        done = json.loads(
            self.request_raw(
                m.MSG_PULL, json.dumps(dict(args, obj=obj)).encode(), on_data=on_data
            )
        )
        if done["size"] != len(buf) or lc.crc32(buf) & 0xFFFFFFFF != done["crc32"]:
            raise LinkError(f"bulk transfer of {obj!r} arrived damaged")
        return bytes(buf)

    def reboot(self) -> dict[str, Any]:
        """Soft-reset the unit and wait until the firmware is back."""
        self.request(m.MSG_REBOOT)
        return self.wait_boot()

    # --- stimulation (the unit validates and decides; see docs/SAFETY.md) --
    def check_protocol(self, protocol: dict[str, Any]) -> dict[str, Any]:
        """The unit's verdict on a wire-form protocol: its hash and figures,
        or LimitError naming the limit, the value and the allowed range."""
        return self.request(m.MSG_VALIDATE, protocol)

    def validate(self, phantom: Any = None, out: Any = None, **options: Any) -> dict[str, Any]:
        """Validate this unit into a phantom load (docs/VALIDATION.md): every
        check with its requested and measured value, tolerance and outcome;
        the summary also goes to summary.json (and report.html) in `out`.
        phantom: a phantom file's path or a stimbox.validation.Phantom (None:
        the board's default bench phantom); options: run_validation's."""
        from stimbox.validation import run_validation

        return run_validation(self, phantom, out, **options)

    def plan(self, protocol: dict[str, Any]) -> dict[str, Any]:
        """Validate and compile without stimulating: the summary, and under
        "rows" the first compiled pulses as dicts (times in us from the run's
        start)."""
        d = self.request(m.MSG_PLAN, protocol)
        raw = self.pull("plan")
        size = struct.calcsize(d["row_format"])
        names = [c.strip() for c in d["columns"].split(",")]
        names[0] = "t_us"
        d["rows"] = [
            dict(zip(names, struct.unpack_from(d["row_format"], raw, off), strict=True))
            for off in range(0, len(raw), size)
        ]
        return d

    def _with_token(self, args: dict[str, Any] | None = None) -> dict[str, Any] | None:
        if self.token is None:
            return args
        return dict(args or {}, token=self.token)

    def arm(self, protocol_hash: str) -> dict[str, Any]:
        """Arm the validated protocol; this host then holds the unit's
        session (its token goes with later control requests)."""
        d = self.request(m.MSG_ARM, self._with_token({"hash": protocol_hash}))
        self.token = d.pop("token", None)
        self.session = d.get("session")
        return d

    def start(self, baseline: bool = False) -> int:
        """Start the armed protocol; baseline=True makes this run's averages
        the reference its later runs are checked against for alarms."""
        return int(self.request(m.MSG_START, self._with_token({"baseline": True} if baseline else None))["run"])

    def stop(self) -> dict[str, Any]:
        """Stop a run: open to any host, session or not."""
        return self.request(m.MSG_STOP, self._with_token())

    def disarm(self) -> dict[str, Any]:
        d = self.request(m.MSG_DISARM, self._with_token())
        self.token = self.session = None
        return d

    def status(self) -> dict[str, Any]:
        return self.request(m.MSG_STATUS)

    def heartbeat(self, timeout: float | None = None) -> str:
        return str(self.request(m.MSG_HEARTBEAT, self._with_token(), timeout=timeout)["state"])

    def result(self, run: int) -> dict[str, Any]:
        return self.request(m.MSG_RESULT, {"run": run})

    def events(self, ack: int | None = None) -> dict[str, Any]:
        """The unit's safety events since the acknowledged seq, every page of
        them; ack first acknowledges up to that seq (refused, not_owner,
        while another host holds the unit's session)."""
        d: dict[str, Any] = self.request(m.MSG_EVENTS, self._with_token({"ack": ack})
                                         if ack is not None else None)
        events = list(d["events"])
        while d["more"]:
            d = self.request(m.MSG_EVENTS, {"since": d["next"]})
            events.extend(d["events"])
        d["events"] = join_parts(events)
        return d

    def records(self, since: int | None = None, ack: int | None = None) -> RecordPage:
        """One page of the journal after seq since (default: after the
        acknowledged seq), as the unit sends it: a record spanning several
        slots may run on into the next page, its parts unjoined (join_parts,
        or all_records(), joins them); ack first acknowledges up to that seq
        (refused, not_owner, while another host holds the unit's session)."""
        args: dict[str, Any] = {}
        if since is not None:
            args["since"] = since
        if ack is not None:
            args = self._with_token(dict(args, ack=ack)) or {}
        d = self.request(m.MSG_RECORDS, args or None)
        return RecordPage(d["records"], d["next"], d["more"], d["first_seq"], d["last_seq"],
                          d["acked"], d["lost"])

    def all_records(self, since: int | None = None) -> list[dict[str, Any]]:
        """Every record after since (default: the acknowledged), page by
        page, each record that spans several slots joined (join_parts)."""
        out: list[dict[str, Any]] = []
        page = self.records(since)
        out.extend(page.records)
        while page.more:
            page = self.records(page.next)
            out.extend(page.records)
        return join_parts(out)

    def ack(self, seq: int) -> int:
        """The host has stored every record up to seq: the unit may reuse
        their room. Returns the unit's acknowledged seq."""
        return int(self.records(since=seq, ack=seq).acked)

    def average(self, stream: str, split: str, channel: int) -> list[float]:
        """One averaged channel of the last run, in uV: split "a", "b" or
        "ab" (both), channel the amplifier channel number."""
        data = self.pull(f"avg/{stream}/{split}/{channel}")
        return list(struct.unpack(f"<{len(data) // 4}f", data))

    # --- scripting helpers: one call, typed results (stimbox.api, docs/API.md)
    # stimbox.api is imported on use: it builds on stimbox.session, which
    # imports this module.
    def pulses(self, **opts: Any) -> PulseRun:
        """Test pulses: out="P1", amp_ua=5000, width_us=200, count=10,
        rate_hz=2, other protocol keys (stimbox.api.pulses)."""
        from stimbox import api

        return api.pulses(self, **opts)

    def ssep(self, **opts: Any) -> SsepResult:
        """An SSEP run: nerve="median", sides=("L", "R"), sweeps=...
        (stimbox.api.ssep)."""
        from stimbox import api

        return api.ssep(self, **opts)

    def mep(self, **opts: Any) -> MepResult:
        """Transcranial MEPs per muscle per trial: amp_mv=..., trains=...,
        muscles=... (stimbox.api.mep)."""
        from stimbox import api

        return api.mep(self, **opts)

    def threshold(self, **opts: Any) -> ThresholdResult:
        """A triggered-EMG threshold search: screw="L5_L", muscles=...
        (stimbox.api.threshold)."""
        from stimbox import api

        return api.threshold(self, **opts)

    # --- monitoring (electrode impedance, free-run EMG) ---------------------
    def impedance(
        self,
        electrodes: list[str] | None = None,
        pairs: list[tuple[str, str]] | None = None,
        max_kohm: float | None = None,
        mismatch_kohm: float | None = None,
    ) -> dict[str, Any]:
        """Impedance check: kOhm and pass/fail per electrode (default: every
        recording electrode) and mismatch per (active, reference) pair.
        Refused (DeviceError "state") while a run is stimulating."""
        args: dict[str, Any] = {}
        if electrodes:
            args["electrodes"] = list(electrodes)
        if pairs:
            args["pairs"] = [list(p) for p in pairs]
        if max_kohm is not None:
            args["max_kohm"] = max_kohm
        if mismatch_kohm is not None:
            args["mismatch_kohm"] = mismatch_kohm
        return self.request(m.MSG_IMPEDANCE, args or None)

    def freerun_start(self, channels: list[int], rate_hz: int = 10000, block_ms: float = 10,
                      **options: Any) -> dict[str, Any]:
        """Start free-run EMG on amplifier channels. options: band [low, high]
        or sos rows, notch, thr_uv, refractory_ms, gap_ms, train_spikes,
        train_ms, duration_ms (the unit stops by itself and pushes the
        summary). Detections arrive as "emg" pushes."""
        return self.request(m.MSG_FREERUN_START,
                            dict(options, channels=list(channels), rate_hz=rate_hz, block_ms=block_ms))

    def freerun_stop(self) -> dict[str, Any]:
        """Stop free-run EMG; the summary (counts per channel, cumulative
        train time, detections not pushed yet)."""
        return self.request(m.MSG_FREERUN_STOP)

    def trace(self) -> dict[str, Any]:
        """The last pulse the unit read back from its output monitor:
        {"run", "pulse" (index in its run), "out" (output index), "rate_hz",
        "ua_lsb", "mv_lsb", "pre" (samples before the scheduled start), "i",
        "v" (int16 samples)}; {"run": None} before any."""
        raw = self.request_raw(m.MSG_TRACE)
        (k,) = struct.unpack_from("<H", raw)
        d: dict[str, Any] = json.loads(raw[2 : 2 + k])
        n = d.pop("n", 0)
        if d.get("run") is not None:
            samples = struct.unpack_from(f"<{2 * n}h", raw, 2 + k)
            d["i"] = list(samples[0::2])
            d["v"] = list(samples[1::2])
        return d

    def sim(self, **request: Any) -> Any:
        """Sim-only control of a simulated unit (docs/SIMULATOR.md)."""
        return self.request(m.MSG_SIM, request)

    def link_counters(self) -> dict[str, int]:
        """This host's own count of frames dropped on the way in."""
        return self._decoder.counters()


def _device_error(payload: bytes) -> DeviceError:
    try:
        d = json.loads(payload)
        code, name, message = d["code"], d.get("name", "?"), d["message"]
    except (ValueError, KeyError, TypeError):
        return DeviceError(m.ERR_INTERNAL, "internal", f"unreadable error reply {payload!r}")
    cls = LimitError if code == m.ERR_LIMIT else DeviceError
    return cls(code, name, message, d.get("detail"))
