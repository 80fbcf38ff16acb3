# Device side of tests/test_rp2_board.py: the Pico 2 board's hal.py under the
# Unix MicroPython, on the rp2 port stand-ins of tests/fakes/rp2port (which
# keep what the HAL asked of the hardware) and, for the front-end, the
# ADS1299 register model (tests/ads1299_peer.py). One scenario per run,
# named by the first argument; it prints one JSON value.
import gc
import json
import sys
import time

import board
import devargs
import machine
import micropython
import rp2
import stimpio
from stimfw.stim.timeline import Timeline

SCRATCH_COUNT = 0x400D800C
SCRATCH_MARK = 0x400D8010
PWM_CTR = 0x400A8000 + 0x14 * board.PWM_PULSE_SLICE + 8
PIO_TXF0 = 0x50200010
P = board.PINS


def chip_reset(cause):
    """What a chip-level reset does to the stand-ins' hardware: the PWM
    block's registers clear (the watchdog's scratch registers do not), and
    the reset reason is cause."""
    regs = machine.mem32.regs
    for a in list(regs):
        if 0x400A8000 <= a < 0x400A8100:
            regs[a] = 0
    machine.CAUSE[0] = cause


def timeline(rows):
    tl = Timeline(32)
    for r in rows:
        tl.add(*r)
    return tl


_NO = object()


def locked(fn, a=_NO, b=_NO, c=_NO, d=_NO):
    """fn(a, b, ...) with the heap locked: any allocation raises MemoryError.
    Called without *args, whose tuple would be an allocation of its own."""
    micropython.heap_lock()
    try:
        if a is _NO:
            return fn()
        if b is _NO:
            return fn(a)
        if c is _NO:
            return fn(a, b)
        if d is _NO:
            return fn(a, b, c)
        return fn(a, b, c, d)
    finally:
        micropython.heap_unlock()


def new_hal():
    import hal

    return hal.Hal()


def seq(pin):
    return machine.WRITES[pin]


def fire():
    h = new_hal()
    rows = devargs.data()
    tl = timeline(rows)
    dma = h._dma
    gate_writes = (seq(P["GATE_1"]), seq(P["GATE_2"]))
    now = h.ticks_us()
    start = h.ticks_add(now, 5000)
    locked(h.fire, tl, start)
    sm = rp2.StateMachine.ALL[4 * board.PIO_BLOCK + board.PIO_SM]
    ctrl = rp2.DMA.unpack_ctrl(dma.ctrl)
    spi = h._spi
    first = [spi.sent[k] for k in range(spi.sent_n)]
    out = {
        "dma": {"read_is_stream": dma.read is h._words, "write": dma.write, "count": dma.count,
                "running": dma.running, "treq": ctrl["treq_sel"], "size": ctrl["size"],
                "inc_read": ctrl["inc_read"], "inc_write": ctrl["inc_write"]},
        "edges": stimpio.decode(dma.read, dma.count),
        "words": [dma.read[k] for k in range(dma.count)],
        "expected_words": stimpio.words_needed(tl),
        "start_in_us": 5000,
        "sm": {"program_is": sm.program is stimpio.PROGRAM, "freq": sm.freq,
               "out_base": sm.out_base.id, "jmp_pin": sm.jmp_pin.id, "running": sm.running,
               "restarts": sm.restarts},
        "gates_untouched": gate_writes == (seq(P["GATE_1"]), seq(P["GATE_2"])),
        "enable": machine.LEVELS[P["HV_EN"]],
        "order": {"enable": seq(P["HV_EN"]), "dma": dma.trigger_seq, "sm": sm.start_seq},
        "settings_first": first[-3:],
        "settings_table": [h._set[k] for k in range(3 * (2 * tl.n + 1))],
        "kick": {"count": h._kick.count, "write_is_set_trigger": h._kick.write == h._kick_to,
                 "treq": rp2.DMA.unpack_ctrl(h._kick.ctrl)["treq_sel"], "running": h._kick.running},
        "done_before": locked(h.fire_done),
    }
    print(json.dumps(out))


def played():
    """fire_done() on a clock the test moves: not before the stream's end
    and its DMA are both through; then HV_EN drops."""
    import hal

    class ClockHal(hal.Hal):
        # From the real clock's now: the front-end made at hal's import
        # stamped its power-up on it.
        t = time.ticks_us()
        step = 50  # while it boots: the front-end's power-up wait passes

        def ticks_us(self):
            self.t = time.ticks_add(self.t, self.step)
            return self.t

    h = ClockHal()
    h.step = 0
    tl = timeline(devargs.data())
    start = time.ticks_add(h.t, 5000)
    h.fire(tl, start)
    end = time.ticks_add(start, tl.duration_us)
    out = []
    for t, dma_busy in ((time.ticks_add(end, -1), False), (end, True), (end, False)):
        h.t = t
        h._dma.running = dma_busy  # the hardware: the stream still being fed
        out.append([locked(h.fire_done), machine.LEVELS[P["HV_EN"]]])
    # A stream cut by ENABLE falling under it: the state machine parks at the
    # program's latched address while the DMA stalls, long before the end.
    h.fire(tl, time.ticks_add(h.t, 5000))
    h.t = time.ticks_add(h.t, 5100)
    playing = [locked(h.fire_done), machine.LEVELS[P["HV_EN"]]]
    machine.mem32[0x502000D4] = stimpio.PROGRAM[1 + board.PIO_BLOCK] + stimpio.LATCHED_ADDR
    out.append(playing)
    out.append([locked(h.fire_done), machine.LEVELS[P["HV_EN"]], h._dma.running])
    print(json.dumps(out))


def abort():
    h = new_hal()
    tl = timeline(devargs.data())
    h.fire(tl, h.ticks_add(h.ticks_us(), 5000))
    sm = rp2.StateMachine.ALL[4 * board.PIO_BLOCK + board.PIO_SM]
    chans = (h._dma, h._kick, h._set_dma)
    running = [c.running for c in chans]
    locked(h.abort)
    after = {
        "sm_running": sm.running, "last_exec": sm.execs[(sm.n_exec - 1) & 15],
        "enable": machine.LEVELS[P["HV_EN"]], "dma_running": [c.running for c in chans],
        "order": [sm.stop_seq, sm.exec_seq, seq(P["HV_EN"])],
        "aborted_all": all(c.abort_seq for c in chans), "done": h.fire_done(),
    }
    sent = h._spi.sent_n
    locked(h.outputs_off)
    locked(h.outputs_off)
    spi = h._spi
    off = [spi.sent[k & 255] for k in range(sent, spi.sent_n)]
    print(json.dumps({"running_before": running, "after": after, "off_words": off,
                      "gates_off_instr": stimpio.GATES_OFF_INSTR,
                      "enable_after_off": machine.LEVELS[P["HV_EN"]],
                      "sm_after_off": sm.running, "done_after_off": h.fire_done()}))


def count():
    # A boot after power-on (no mark), then one after a watchdog reset that
    # left 65534 in the scratch register; the hardware counts on from there.
    fresh = new_hal().fired_count()
    mirror = None
    for c in rp2.DMA.CHANNELS.values():
        if c.write == SCRATCH_COUNT:
            mirror = {"read": c.read, "count": c.count, "running": c.running,
                      "treq": rp2.DMA.unpack_ctrl(c.ctrl)["treq_sel"],
                      "inc": [rp2.DMA.unpack_ctrl(c.ctrl)["inc_read"],
                              rp2.DMA.unpack_ctrl(c.ctrl)["inc_write"]]}
    machine.mem32[SCRATCH_COUNT] = 65534
    chip_reset(machine.WDT_RESET)
    h = new_hal()
    reloaded = h.fired_count()
    cause = h.reset_cause()
    machine.mem32[PWM_CTR] = (65534 + 3) & 0xFFFF  # three pulses later, wrapped
    after = locked(h.fired_count)
    # A soft reset: the counter ran on, and stays as it is.
    machine.mem32[PWM_CTR] = 9
    h = new_hal()
    soft = [h.fired_count(), h.reset_cause()]
    print(json.dumps({"fresh": fresh, "reloaded": reloaded, "after_wrap": after,
                      "mirror": mirror, "ctr_addr": PWM_CTR, "cause": cause, "soft": soft}))


def monitor():
    """Fire, play the monitor ADC's DMA from the decoded stimulus stream
    (the ground truth of when each gate was on), read the traces back."""
    cfg = devargs.data()
    h = new_hal()
    mon = h._mon
    # The ring has been running: the stream starts near its end, so the
    # traces wrap round it.
    mon.run([0] * (2 * board.MONITOR_RING_PAIRS - cfg["before_end"]))
    tl = timeline(cfg["rows"])
    h.fire(tl, h.ticks_add(h.ticks_us(), cfg["start_in_us"]))
    buf = micropython_array(2 * board.MONITOR_MAX_SAMPLES)
    early = locked(h.monitor, 0, buf)
    edges = stimpio.decode(h._dma.read, h._dma.count)
    # One sample pair per 4 us of stream time: current, voltage. While a
    # gate is on the stage delivers that phase of the pulse then in hand.
    us = 1000000 // board.MONITOR_RATE_HZ
    total = edges[-1][0] + 2000
    samples = []
    state = 0
    e = 0
    for j in range(total // us):
        t = j * us
        while e < len(edges) and edges[e][0] <= t:
            state = edges[e][1]
            e += 1
        samples.append(state)
    # Pulse by pulse: GATE_1 (bit 0) rises once per pulse.
    cur = []
    pulse = -1
    prev = 0
    for st in samples:
        if st & 1 and not prev & 1:
            pulse += 1
        prev = st
        if st == 0:
            cur.append((2048, 2048))
            continue
        o = board.OUTPUTS[tl.output[pulse]]
        amp = tl.amp[pulse] if st & 1 else tl.amp2[pulse]
        ua = amp if o["kind"] == "CC" else amp * 2  # CV into 500 ohm: I = V / R
        mv = amp * 500 // 1000 if o["kind"] == "CC" else amp
        cur.append((2048 + ua // o["mon_ua_lsb"], 2048 + mv // o["mon_mv_lsb"]))
    flat = []
    for a, b in cur:
        flat.append(a)
        flat.append(b)
    mon.run(flat)
    traces = []
    for i in range(tl.n):
        n = locked(h.monitor, i, buf)
        traces.append([buf[k] for k in range(2 * n)])
    print(json.dumps({"early": early, "traces": traces, "delay": h._delay_us}))


def micropython_array(n):
    from array import array

    return array("h", bytes(2 * n))


def wire_frontend(devices):
    from ads1299_peer import wire

    peer, spi, cs, drdy, pins = wire(devices)
    machine.SPI.PEERS[board.SPI_FRONTEND] = spi
    machine.PIN_PEERS[P["AFE_CS"]] = cs
    machine.PIN_PEERS[P["AFE_DRDY"]] = drdy
    machine.PIN_PEERS[P["AFE_START"]] = pins["start"]
    machine.PIN_PEERS[P["AFE_RESET"]] = pins["reset"]
    machine.PIN_PEERS[P["AFE_PWDN"]] = pins["pwdn"]
    # The Hal's clock is the model's virtual time from here on: the front-end
    # made at hal's import stamped its power-up on the real clock, now.
    peer.base = time.ticks_us()
    return peer


def peer_hal(peer):
    """The board's Hal on the front-end model's virtual clock (the
    timeline clock, which the driver stamps frames with)."""
    import hal

    class PeerClockHal(hal.Hal):
        def ticks_us(self):
            return time.ticks_add(peer.base, peer.clock())

        def ticks_ms(self):
            return peer.clock() // 1000

    return PeerClockHal()


def acquire():
    cfg = devargs.data()
    peer = wire_frontend(board.AMP_DEVICES)
    for d in peer.devices:
        d.signal = signal
    h = peer_hal(peer)
    chans = cfg["channels"]
    rate = cfg["rate_hz"]
    buf = micropython_array(len(chans) * cfg["samples"])
    # First use: the front-end is set up at this rate, then the window waited for.
    t0 = h.ticks_add(h.ticks_us(), 3000)
    n1 = h.acquire(t0, rate, chans, buf)
    first1 = run_start(peer)
    got1 = [buf[k] for k in range(len(chans) * n1)]
    peer.history = Discard()  # the model's record of every conversion: not needed again
    # A window already in the ring, read with the heap locked; the model
    # stops converting so that its own bookkeeping does not allocate.
    h._fe.wait(h._fe.count + 200, 1000)
    peer.stuck = True
    t1 = h.ticks_add(h.ticks_us(), -8000)
    n2 = locked(h.acquire, t1, rate, chans, buf)
    got2 = [buf[k] for k in range(len(chans) * n2)]
    p16 = peer.period16()
    print(json.dumps({"n1": n1, "got1": got1, "t0_16": time.ticks_diff(t0, peer.base) * 16, "n2": n2, "got2": got2,
                      "t1_16": time.ticks_diff(t1, peer.base) * 16, "conv0_16": first1, "p16": p16,
                      "lost": h._fe.lost, "irq_alloc": peer.irq_alloc,
                      "irq_errors": peer.irq_errors}))


class Discard:
    def append(self, item):
        pass


def signal(ch, n):
    # nV: a value per channel and frame, whole in 0.125 uV steps.
    return ((ch + 1) * 100 + n % 50) * 125


def run_start(peer):
    """Virtual time (1/16 us) of conversion 0 of the current run."""
    k = 0
    for i in range(len(peer.history)):
        if peer.history[i][0] == 0:
            k = i
    done = len(peer.history) - k
    return peer.next_conv - done * peer.period16()


def impedance():
    peer = wire_frontend(board.AMP_DEVICES)
    peer.devices[0].z_p[0] = 3000
    peer.devices[0].z_n[0] = 2000
    peer.devices[1].z_p[1] = 7000  # channel 9: TAR, TARr
    peer.devices[1].z_n[1] = 1500
    h = peer_hal(peer)
    out = {"AHL": h.impedance("AHL"), "TARr": h.impedance("TARr")}
    for bad in ("C3", "nowhere"):
        try:
            h.impedance(bad)
            out[bad] = "no error"
        except ValueError as e:
            out[bad] = str(e)
    print(json.dumps(out))


def safety():
    h = new_hal()
    out = {}
    machine.LEVELS[P["INTERLOCK"]] = 0
    machine.LEVELS[P["ESTOP"]] = 0
    out["closed"] = [locked(h.interlock_closed), locked(h.estop_pressed)]
    machine.LEVELS[P["INTERLOCK"]] = 1
    machine.LEVELS[P["ESTOP"]] = 1
    out["open"] = [h.interlock_closed(), h.estop_pressed()]
    h.start_watchdog(board.WATCHDOG_MS)
    locked(h.feed_watchdog)
    h.feed_watchdog()
    out["wdt"] = [machine.WDT.last.timeout, machine.WDT.last.feeds, h.stop_watchdog()]
    out["power_on"] = h.reset_cause()  # this process's first Hal: after power-on
    chip_reset(machine.WDT_RESET)
    out["watchdog"] = new_hal().reset_cause()
    try:
        h.reset()
    except SystemExit as e:
        out["reset"] = str(e)
    out["after_reset"] = new_hal().reset_cause()
    chip_reset(machine.PWRON_RESET)
    out["next_boot"] = new_hal().reset_cause()
    try:
        h.sim({})
    except Exception as e:
        out["sim"] = type(e).__name__
    print(json.dumps(out))


def budget():
    """The firmware as this board runs it: App() with this board's tables
    and HAL at the board's heap, then a protocol's set-up (VALIDATE, ARM,
    START and its first segments) through the link."""
    from loadmodel import BytesConsole, Host
    from stimfw import app as appmod
    from stimfw.link import messages as m

    spec = devargs.data()
    peer = wire_frontend(board.AMP_DEVICES)
    gc.collect()
    h = peer_hal(peer)
    # Its ring stays allocated; stopped, the model's record of every
    # conversion does not fill this heap.
    h._fe.stop()
    h.console = BytesConsole()
    machine.LEVELS[P["INTERLOCK"]] = 0
    gc.collect()
    boot_free = gc.mem_free()
    app = appmod.App(h, board)
    host = Host(app)
    gc.collect()
    app_free = gc.mem_free()
    v = host.ok(m.MSG_VALIDATE, spec)
    host.ok(m.MSG_ARM, {"hash": v["hash"]})
    host.ok(m.MSG_START, {})
    host.steps(20)
    gc.collect()
    run_free = gc.mem_free()
    print(json.dumps({"heap": gc.mem_free() + gc.mem_alloc(), "boot_free": boot_free,
                      "app_free": app_free, "run_free": run_free,
                      "fires": rp2.DMA.CHANNELS[h._dma.channel].triggers,
                      "state": app.supervisor.state, "pulses": h._dma.count}))


globals()[sys.argv[1]]()
