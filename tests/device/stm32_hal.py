# Device side of tests/test_stm32_board.py: the pyboard HAL (boards/
# stm32_pybv11/hal.py) on the fakes of tests/fakes/stm32port, with the
# timers and DMA played by stm32hw. data: {"case": name, ...}. Prints one
# JSON object per case.
import json
import time
from array import array

import board
import devargs
import machine
import micropython
import pyb
import stm
import stm32hw
from stimfw.hal_api import NotProvided
from stimfw.stim.timeline import Timeline

GATES = ("GATE_FWD", "GATE_REV", "MARK")
cfg = devargs.data()
out = {}


def make_hal():
    import hal

    return hal, hal.Hal()


def timeline(rows):
    tl = Timeline(32)
    for r in rows:
        tl.add(*r)
    return tl


def play(h, hal, until_us=None):
    return stm32hw.play(h._mark, h._fwd, h._rev, pyb.made[board.PINS["ENABLE"]], hal.RING, until_us)


def observed(h, edges, t_cen):
    """Per gate: [[on, off, dac word at on], ...] in ticks_us."""
    gates = {"fwd": [], "rev": []}
    last = 0
    for t, odr, dac in edges:
        for name, bit in (("fwd", h._fwd), ("rev", h._rev)):
            if odr & bit and not last & bit:
                gates[name].append([time.ticks_add(t_cen, t), None, dac])
            elif last & bit and not odr & bit:
                gates[name][-1][1] = time.ticks_add(t_cen, t)
        last = odr
    return gates


case = cfg["case"]
if case == "fire":
    hal, h = make_hal()
    t0 = cfg["t0"] & (time.ticks_add(0, -1))  # on the port's ticks period
    res = []
    for rows in cfg["timelines"]:
        tl = timeline(rows)
        time.freeze(t0)
        start = time.ticks_add(t0, cfg["lead_us"])
        writes = [pyb.made[board.PINS[n]].writes for n in GATES]
        bsrr = len(stm.mem32.written(stm.GPIOB + stm.GPIO_BSRR))
        h.fire(tl, start)
        done_before = h.fire_done()
        mon_before = h.monitor(0, array("h", bytes(4 * board.MONITOR_MAX_SAMPLES)))
        edges = play(h, hal)
        done = h.fire_done()
        traces = []
        buf = array("h", bytes(4 * board.MONITOR_MAX_SAMPLES))
        for i in range(tl.n):
            n = h.monitor(i, buf)
            cur = [buf[2 * j] for j in range(n)]
            volt = [buf[2 * j + 1] for j in range(n)]
            traces.append({"n": n, "cur": cur, "volt": volt})
        res.append({
            "start": start, "t_cen": stm32hw.state[0], "edges": len(edges),
            "gates": observed(h, edges, stm32hw.state[0]),
            "done_before": done_before, "done": done, "mon_before": mon_before,
            "pin_writes": [pyb.made[board.PINS[GATES[j]]].writes - writes[j] for j in range(3)],
            "bsrr_by_python": stm.mem32.written(stm.GPIOB + stm.GPIO_BSRR)[bsrr:],
            "all_off": h._all_off, "enable": pyb.made[board.PINS["ENABLE"]].value(),
            "traces": traces, "dac_full": h._full, "steps": list(h._steps), "res": list(h._res),
        })
        time.thaw()
        t0 = time.ticks_add(t0, 10000000)
    out["runs"] = res
elif case == "abort":
    hal, h = make_hal()
    tl = timeline(cfg["rows"])
    time.freeze(1000)
    h.fire(tl, 21000)
    edges = play(h, hal, cfg["until_us"])
    regs = stm.mem32.regs

    def snapshot():
        return {"enable": pyb.made[board.PINS["ENABLE"]].value(),
                "tim1_cr1": regs[stm.TIM1 + stm.TIM_CR1], "tim1_dier": regs[stm.TIM1 + stm.TIM_DIER],
                "streams_en": [regs[stm32hw.cr(s)] & 1 for s in (1, 2, 5)],
                "odr": regs[stm.GPIOB + stm.GPIO_ODR], "done": h.fire_done(),
                "dac": regs[stm.DAC + stm.DAC_DHR12RD]}

    before = snapshot()
    h.abort()
    a1 = snapshot()
    h.abort()
    a2 = snapshot()
    h.outputs_off()
    o1 = snapshot()
    h.outputs_off()
    o2 = snapshot()
    out.update({"played_edges": len(edges), "before": before, "abort": a1, "abort2": a2,
                "off": o1, "off2": o2, "all_off": h._all_off,
                "stopped_edge": len(edges), "gates_mask": h._fwd | h._rev | h._mark})
elif case == "heap":
    hal, h = make_hal()
    tl = timeline(cfg["rows"])
    buf = array("h", bytes(4 * board.MONITOR_MAX_SAMPLES))
    h.start_watchdog(board.WATCHDOG_MS)
    time.freeze(5000)
    h.fire(tl, 30000)  # first use
    play(h, hal)
    h.fire_done()
    h.monitor(0, buf)
    h.fired_count()
    calls = {}

    def locked(name, fn):
        # fn takes no arguments: a call with *args would allocate itself
        ok = False
        micropython.heap_lock()
        try:
            fn()
            ok = True
        except MemoryError:
            pass
        finally:
            micropython.heap_unlock()
        calls[name] = "ok" if ok else "allocated"

    locked("fire", lambda: h.fire(tl, 40000))
    play(h, hal)
    locked("fire_done", lambda: h.fire_done())
    locked("monitor", lambda: h.monitor(1, buf))
    locked("fired_count", lambda: h.fired_count())
    locked("abort", lambda: h.abort())
    locked("outputs_off", lambda: h.outputs_off())
    locked("interlock_closed", lambda: h.interlock_closed())
    locked("estop_pressed", lambda: h.estop_pressed())
    locked("feed_watchdog", lambda: h.feed_watchdog())
    locked("ticks_us", lambda: h.ticks_us())
    locked("control", lambda: [h, tl])  # makes a list: shows the check catches allocation
    out["calls"] = calls
elif case == "count":
    regs = stm.mem32.regs
    if cfg.get("running"):  # TIM4 ran on through a soft reset
        regs[stm.TIM4 + stm.TIM_CR1] = 1
        regs[stm.TIM4 + stm.TIM_SMCR] = (5 << 4) | 7
        regs[stm.TIM4 + stm.TIM_CNT] = 700
    regs[stm.RTC + stm.RTC_BKP0R] = cfg.get("bkp", 0)
    hal, h = make_hal()
    first = None
    try:
        first = h.fired_count()
    except NotProvided as e:
        first = "NotProvided: " + str(e)
    tl = timeline(cfg["rows"])
    time.freeze(0)
    h.fire(tl, 20000)
    play(h, hal)
    out.update({"first": first, "after": h.fired_count(), "bkp": regs[stm.RTC + stm.RTC_BKP0R] & 0xFFFF})
elif case == "acquire":
    # The ADS1299 peer model (tests/ads1299_peer.py) behind SPI2, its
    # virtual clock as the timeline clock; each channel sees a ramp of
    # (ch + 1) uV per conversion.
    import ads1299_peer

    p = ads1299_peer.Peer()
    p.devices[0].signal = lambda ch, n: (ch + 1) * 1000 * (n % 1000)
    roles = {board.PINS["AFE_CS"]: "cs", board.PINS["AFE_DRDY"]: "drdy",
             board.PINS["AFE_START"]: "start", board.PINS["AFE_RESET"]: "reset"}

    class PeerBus(machine.Pin):
        # machine.Pin and machine.SPI as the HAL makes them for the
        # front-end: the peer's pins and bus.
        def __new__(cls, id, *a, **k):
            pin = ads1299_peer.PeerPin(p, roles[id])
            if k.get("value") is not None:
                pin.value(k["value"])
            return pin

    machine.Pin = PeerBus
    machine.SPI = lambda *a, **k: ads1299_peer.PeerSPI(p)
    time.source(p.clock)
    hal, h = make_hal()
    chans = cfg["channels"]
    buf = array("h", bytes(2 * len(chans) * cfg["samples"]))
    h.acquire(time.ticks_us(), cfg["rate"], chans, buf)  # starts the front-end
    t0 = time.ticks_us()
    n = h.acquire(t0, cfg["rate"], chans, buf)
    afe = h._afe
    out.update({"n": n, "buf": list(buf), "first": afe.index_at(t0), "count": afe.count,
                "lost": afe.lost, "rate": afe.rate_hz, "uv_per_lsb": board.AMP_UV_PER_LSB,
                "irq_alloc": p.irq_alloc, "imp": h.impedance("CH2") >= 0})
elif case == "reset_cause":
    got = []
    for c, tagged in cfg["causes"]:
        machine.cause = c
        if tagged:
            stm.mem32[stm.RTC + stm.RTC_BKP2R] = 0x50F7
        hal, h = make_hal()
        got.append(list(h.reset_cause()))
    out["causes"] = got
    out["stop_watchdog"] = h.stop_watchdog()
    h.start_watchdog(board.WATCHDOG_MS)
    out["wdt_timeout"] = machine.WDT.made[-1].timeout
print(json.dumps(out))
