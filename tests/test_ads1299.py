"""The ADS1299 front-end driver (firmware/stimfw/frontend/ads1299.py) under the
real MicroPython, both runtimes, against a register-level model of the chip
(tests/ads1299_peer.py) behind fakes of machine.SPI and machine.Pin. The
model decides what the registers mean (rates, gains, lead-off) and which
samples it converted; each test checks the driver against that ground
truth. The model delivers every DRDY edge as a hard IRQ would, with the
heap locked, and read() is called under heap_lock: both allocate nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mpy import BOTH, FIRMWARE, run_mp

TESTS = Path(__file__).resolve().parent

PRELUDE = """
import json, micropython
from array import array
import ads1299_peer as P
from stimfw.frontend import ads1299 as A

def make(devices=1, peer_devices=None, dev_ids=None, pins=("start", "reset", "pwdn"), **kw):
    peer, spi, cs, drdy, extra = P.wire(peer_devices or devices, dev_ids, pins)
    kw.update(extra)
    fe = A.ADS1299(spi, cs, drdy, devices=devices, clock=peer.clock, **kw)
    return peer, fe

def err(fn, kind=A.FrontEndError):
    try:
        fn()
    except kind as e:
        return str(e)
    return None

def locked_read(fe, buf, chans, start=None):
    micropython.heap_lock()
    try:
        return fe.read(buf, chans, start)
    finally:
        micropython.heap_unlock()

def irq_health(peer):
    return {"irq_calls": peer.irq_calls, "irq_alloc": peer.irq_alloc, "irq_errors": peer.irq_errors}

# what every channel's inputs see, in nV: +-3 mV, different per channel and frame
def noise(ch, n):
    return ((n * 7919 + ch * 1543) % 6001 - 3000) * 1000
"""

GAINS = (1, 2, 4, 6, 8, 12, 24)
RATES = (250, 500, 1000, 2000, 4000, 8000, 16000)
VREF_UV = 4.5e6


def device(code: str, runtime: str) -> Any:
    return json.loads(run_mp(PRELUDE + code, paths=(FIRMWARE, TESTS), runtime=runtime, heap="1m"))


def lsb_uv(gain: int) -> float:
    return VREF_UV / (gain * 2**23)


def assert_irqs_clean(r: dict[str, Any]) -> None:
    assert r["irq_calls"] > 0
    assert r["irq_alloc"] == 0 and r["irq_errors"] == []


@pytest.mark.parametrize("runtime", BOTH)
def test_setup_writes_the_registers_of_every_rate_and_gain_and_reads_them_back(runtime: str) -> None:
    r = device("""
peer, fe = make(pins=())
rows = []
for rate, gain in [(rate, 24) for rate in A.RATES_HZ] + [(1000, g) for g in A.GAINS]:
    fe.setup(rate, gain)
    d = peer.devices[0]
    rows.append({"rate": rate, "gain": gain, "period16": peer.period16(),
                 "gains": [d.gain(k) for k in range(8)], "regs": list(d.regs)})
out = {"rows": rows, "log": peer.log[:6],
       "bad_rate": err(lambda: fe.setup(5000, 24), ValueError),
       "bad_gain": err(lambda: fe.setup(1000, 3), ValueError)}
print(json.dumps(out))
""", runtime)
    assert [(row["rate"], row["gain"]) for row in r["rows"]] == [(x, 24) for x in RATES] + [(1000, g) for g in GAINS]
    for row in r["rows"]:
        regs = row["regs"]
        # the model's conversion period (from CONFIG1 DR and f_CLK) is the rate asked for
        assert row["period16"] == 16_000_000 // row["rate"]
        assert row["gains"] == [row["gain"]] * 8
        assert all(regs[0x05 + k] & 0x8F == 0 for k in range(8))  # powered, normal input, no SRB2
        assert regs[0x01] & 0xD8 == 0xD0  # fixed bits, multiple read-back for one device
        assert regs[0x02] == 0xC0 and regs[0x03] & 0xFE == 0xEC  # internal reference, bias on
        assert regs[0x04] == 0x00  # DC lead-off, 6 nA, 95 % threshold
        assert regs[0x0D:0x11] == [0xFF] * 4  # bias and lead-off sensing on every input
        assert regs[0x17] == 0x02  # lead-off comparators powered
    # reset, SDATAC (the chip wakes in RDATAC, deaf to RREG/WREG), ID, reference, the rest
    assert r["log"] == [["RESET"], ["SDATAC"], ["RREG", 0, 1], ["WREG", 3, 1], ["WREG", 1, 17], ["WREG", 21, 3]]
    assert "5000 Hz" in r["bad_rate"] and "16000" in r["bad_rate"]
    assert "gain 3" in r["bad_gain"]


@pytest.mark.parametrize("runtime", BOTH)
def test_a_wrong_id_or_a_register_that_does_not_take_is_named(runtime: str) -> None:
    r = device("""
peer, fe = make(dev_ids={0: 0x3C})
wrong = err(lambda: fe.setup(1000, 24))
peer, fe = make(dev_ids={0: 0x00})
absent = err(lambda: fe.setup(1000, 24))
peer, fe = make()
peer.devices[0].stuck_regs = (0x05,)
stuck = err(lambda: fe.setup(1000, 24))
print(json.dumps({"wrong": wrong, "absent": absent, "stuck": stuck}))
""", runtime)
    assert r["wrong"] == "front-end ID 0x3c read, 0x3e (ADS1299, 8 channels) expected"
    assert r["absent"].startswith("front-end ID 0x00 read, 0x3e") and "no device answering" in r["absent"]
    # CH1SET stays at its reset value 0x61 (gain 24, input shorted)
    assert r["stuck"] == "front-end register 0x05 reads 0x61, 0x60 written"


SAMPLES = """
peer, fe = make(uv_per_lsb=%(uv)r, ring_samples=64)
res = []
for gain in %(gains)r:
    for d in peer.devices:
        d.signal = lambda ch, n: 5000000 if ch == 6 else (-5000000 if ch == 7 else noise(ch, n))
    fe.setup(1000, gain)
    fe.start()
    fe.wait(30, 100)
    fe.stop()
    buf = array(%(tc)r, bytes(%(size)d * 8 * 30))
    n = locked_read(fe, buf, (0, 1, 2, 3, 4, 5, 6, 7), 0)
    more = locked_read(fe, buf, (0,))
    res.append({"gain": gain, "n": n, "more": more, "out": list(buf), "codes": peer.history[:30],
                "lost": fe.lost})
r = irq_health(peer)
r["res"] = res
print(json.dumps(r))
"""


@pytest.mark.parametrize("runtime", BOTH)
def test_samples_read_are_what_the_chip_converted_scaled_to_int16(runtime: str) -> None:
    r = device(SAMPLES % {"uv": 0.125, "gains": (1, 6, 24), "tc": "h", "size": 2}, runtime)
    assert_irqs_clean(r)
    for g in r["res"]:
        assert g["n"] == 30 and g["more"] == 0 and g["lost"] == 0
        lsb = lsb_uv(g["gain"])
        for i in range(30):
            for ch in range(6):
                code = g["codes"][i][ch]
                got = g["out"][i * 8 + ch]
                assert abs(got - code * lsb / 0.125) <= 0.6, (g["gain"], i, ch)
                # and, whatever the gain, the microvolts the inputs saw
                uv = ((i * 7919 + ch * 1543) % 6001 - 3000) / 1000 * 1000
                assert abs(got * 0.125 - uv) <= 0.0625 + lsb, (g["gain"], i, ch)
            # +-5 mV is beyond int16 at 0.125 uV: clipped, not wrapped
            assert g["out"][i * 8 + 6] == 32767 and g["out"][i * 8 + 7] == -32768


@pytest.mark.parametrize("runtime", BOTH)
def test_raw_codes_as_int32_keep_the_24_bit_sign(runtime: str) -> None:
    # 24-bit codes up to full scale (+-187.5 mV at gain 24): sign extension
    # and the code range, into an array('i')
    r = device((SAMPLES % {"uv": None, "gains": (24,), "tc": "i", "size": 4}).replace(
        "noise(ch, n)", "(noise(ch, n) * 70) if ch < 4 else (200000000 if ch == 4 else -200000000)"), runtime)
    assert_irqs_clean(r)
    g = r["res"][0]
    assert g["n"] == 30
    for i in range(30):
        assert g["out"][i * 8:i * 8 + 6] == g["codes"][i][:6]
        assert g["out"][i * 8 + 4] == 2**23 - 1 and g["out"][i * 8 + 5] == -(2**23)
    assert min(g["out"]) < -(2**22) and max(g["out"]) > 2**22


@pytest.mark.parametrize("runtime", BOTH)
def test_sixteen_daisy_chained_channels_and_a_missing_second_device(runtime: str) -> None:
    r = device("""
peer, fe = make(devices=2, ring_samples=32)
peer.devices[0].signal = noise
peer.devices[1].signal = lambda ch, n: -noise(ch + 8, n)
fe.setup(2000, 12)
fe.start()
fe.wait(20, 100)
fe.stop()
buf = array('i', bytes(4 * 16 * 20))
n = locked_read(fe, buf, tuple(range(16)), 0)
r = irq_health(peer)
regs = [list(d.regs) for d in peer.devices]
peer1, fe1 = make(devices=2, peer_devices=1)
r.update({"n": n, "out": list(buf), "codes": peer.history[:20], "regs": regs,
          "missing": err(lambda: fe1.setup(2000, 12))})
print(json.dumps(r))
""", runtime)
    assert_irqs_clean(r)
    assert r["n"] == 20
    assert [r["out"][i * 16:(i + 1) * 16] for i in range(20)] == r["codes"]
    assert any(c < 0 for c in r["out"][8:16]) and r["out"][8:16] != r["out"][0:8]
    # the broadcast write configured both chips; the first clocks the second
    assert r["regs"][0][1:0x12] == r["regs"][1][1:0x12]
    assert r["regs"][0][0x01] & 0x60 == 0x20  # daisy-chain mode (DAISY_EN low), CLK_EN
    assert r["missing"] == ("front-end device 2 of 2: status header 0x0 read, 0xc expected "
                            "(daisy chain: DOUT2 to DAISY_IN1, CONFIG1 DAISY_EN)")


@pytest.mark.parametrize("runtime", BOTH)
def test_stuck_drdy_is_a_clear_error_at_setup_and_a_counted_timeout_when_running(runtime: str) -> None:
    r = device("""
peer, fe = make()
peer.stuck = True
at_setup = err(lambda: fe.setup(1000, 24))
t_setup = fe.timeouts
peer.stuck = False
fe.setup(1000, 24)
fe.start()
fe.wait(5, 100)
peer.stuck = True
t0 = peer.clock()
running = err(lambda: fe.wait(10, 50))
waited_us = peer.clock() - t0
print(json.dumps({"at_setup": at_setup, "t_setup": t_setup, "running": running,
                  "timeouts": fe.timeouts, "count": fe.count, "waited_us": waited_us}))
""", runtime)
    assert r["at_setup"] == "front-end DRDY stuck high: no conversion in 28 ms" and r["t_setup"] == 1
    assert r["running"] == f"front-end DRDY stuck: no frame for 50 ms ({r['count']} of 10 frames)"
    assert r["count"] == 5 and r["timeouts"] == 2
    # bounded by the timeout on the driver's clock, not a hang
    assert 50_000 < r["waited_us"] < 52_000


@pytest.mark.parametrize("runtime", BOTH)
def test_lost_and_corrupt_frames_are_counted_and_the_ring_stays_in_step(runtime: str) -> None:
    r = device("""
peer, fe = make(ring_samples=64)
peer.devices[0].signal = noise
fe.setup(4000, 24)
fe.start()
fe.wait(10, 100)
peer.miss = 1
fe.wait(20, 100)
peer.miss = 3
fe.wait(30, 100)
peer.glitch = 1
fe.wait(40, 100)
fe.stop()
buf = array('i', bytes(4 * 8 * 63))
n = locked_read(fe, buf, tuple(range(8)), 0)
r = irq_health(peer)
r.update({"n": n, "count": fe.count, "lost": fe.lost, "bad": fe.bad_frames, "out": list(buf),
          "codes": peer.history, "missed": peer.missed, "glitched": peer.glitched,
          "overruns": fe.overruns})
print(json.dumps(r))
""", runtime)
    assert_irqs_clean(r)
    gone = set(r["missed"]) | set(r["glitched"])
    assert len(r["missed"]) == 4 and len(r["glitched"]) == 1
    assert r["lost"] == 5 and r["bad"] == 1 and r["overruns"] == 0
    # ring index = conversion index: a lost frame's slot holds the next frame read
    assert r["n"] == r["count"] >= 40
    for i in range(r["n"]):
        j = i
        while j in gone:
            j += 1
        assert r["out"][i * 8:(i + 1) * 8] == r["codes"][j], i


@pytest.mark.parametrize("runtime", BOTH)
def test_a_reader_left_behind_skips_to_the_oldest_frame_and_counts_it(runtime: str) -> None:
    r = device("""
peer, fe = make(ring_samples=16)
peer.devices[0].signal = noise
fe.setup(8000, 24)
fe.start()
fe.wait(40, 100)
fe.stop()
buf = array('i', bytes(4 * 2 * 40))
n = locked_read(fe, buf, (0, 5), 0)
print(json.dumps({"n": n, "count": fe.count, "overruns": fe.overruns, "out": list(buf[:2 * n]),
                  "codes": peer.history, "index_last": fe.index_at(fe.t_last_us),
                  "index_before": fe.index_at(fe.t_last_us - 250)}))
""", runtime)
    c = r["count"]
    assert r["n"] == 15 and r["overruns"] == c - 15
    assert r["out"] == [v for i in range(c - 15, c) for v in (r["codes"][i][0], r["codes"][i][5])]
    assert r["index_last"] == c - 1 and r["index_before"] == c - 3  # 250 us = 2 periods at 8 kSPS


@pytest.mark.parametrize("runtime", BOTH)
def test_lead_off_status_bits_and_impedance(runtime: str) -> None:
    r = device("""
peer, fe = make(devices=2)
a, b = peer.devices
a.off_p, a.off_n, b.off_p = 0b101, 0b10, 0x80
a.signal = lambda ch, n: noise(ch, n) // 3000 + n * 300  # a drift and +-1 uV
a.z_p[3], a.z_n[3], b.z_p[1], b.z_n[1] = 3000, 2000, 12000, 500
fe.setup(1000, 24)
fe.start()
fe.wait(3, 100)
masks = fe.lead_off()
z3 = fe.impedance(3)
z9 = fe.impedance(9, current_na=6)
still = fe._running
loff_after = a.regs[0x04]
fe.stop()
peer2, fe2 = make()
peer2.devices[0].off_p = 0xFF
fe2.setup(1000, 24, lead_off=False)
fe2.start()
fe2.wait(3, 100)
print(json.dumps({"masks": masks, "z3": z3, "z9": z9, "still": still, "loff_after": loff_after,
                  "without": fe2.lead_off()}))
""", runtime)
    assert r["masks"] == [0x8005, 0x0002]
    # AC excitation at f_DR / 4 through both inputs: Zp + Zn, the channel's own signal rejected
    assert r["z3"] == pytest.approx(5000, rel=0.01)
    assert r["z9"] == pytest.approx(12500, rel=0.01)
    assert r["still"] and r["loff_after"] == 0x00  # streaming again, DC lead-off restored
    assert r["without"] == [0, 0]  # comparators off: no status


@pytest.mark.parametrize("runtime", BOTH)
def test_start_and_stop_use_rdatac_and_sdatac_and_the_irq_ends_with_stop(runtime: str) -> None:
    r = device("""
peer, fe = make(pins=("reset",))
fe.setup(500, 24)
mark = len(peer.log)
fe.start()
fe.wait(4, 100)
fe.stop()
calls = peer.irq_calls
for _ in range(200):
    peer.clock()
stopped = {"log": peer.log[mark:], "calls": calls, "after": peer.irq_calls,
           "handler": peer.handler is None, "rdatac": peer.rdatac, "probe": peer.log[mark - 3:mark]}
# the model's locked-heap IRQ delivery catches a handler that allocates
peer.handler = lambda pin: [pin]
peer._deliver()
stopped["caught"] = peer.irq_alloc
print(json.dumps(stopped))
""", runtime)
    assert r["log"] == [["RDATAC"], ["START"], ["STOP"], ["SDATAC"]]
    assert r["probe"] == [["START"], ["RDATA"], ["STOP"]]  # setup's one-frame check of the chain
    assert r["calls"] == r["after"] and r["handler"] and not r["rdatac"]
    assert r["caught"] == 1


@pytest.mark.parametrize("runtime", BOTH)
def test_frames_rewritten_by_drdy_during_a_read_are_counted(runtime: str) -> None:
    # DRDY interrupts read(): every channel lookup moves the model's clock on
    # (1/16 period), so frames arrive while the ring is being copied.
    r = device("""
peer, fe = make(ring_samples=16)
peer.devices[0].signal = noise
fe.setup(8000, 24)
fe.start()
fe.wait(15, 100)

class Interrupting:
    def __len__(self):
        return 4
    def __getitem__(self, k):
        peer.clock()
        return k

before = fe.count
buf = array('i', bytes(4 * 4 * 15))
n = fe.read(buf, Interrupting(), 0)
print(json.dumps({"n": n, "before": before, "after": fe.count, "overruns": fe.overruns,
                  "out": list(buf), "codes": peer.history}))
""", runtime)
    assert r["before"] == 15 and r["n"] == 15
    late = r["after"] - 16 + 1  # frames 0 .. late-1 had their slots rewritten
    assert 0 < late < 15 and r["overruns"] == late
    for i in range(late, 15):  # the rest are the frames the chip converted
        assert r["out"][i * 4:(i + 1) * 4] == r["codes"][i][:4]


@pytest.mark.parametrize("runtime", BOTH)
def test_a_window_from_a_time_before_the_trigger_as_a_hal_acquires_it(runtime: str) -> None:
    # Hal.acquire(t0_us, ...): the frame index of t0 on the driver's clock,
    # wait for the window, read it. t0 lies 5 ms before "now" (pre-trigger).
    r = device("""
peer, fe = make(ring_samples=256, uv_per_lsb=0.125)
peer.devices[0].signal = noise
fe.setup(2000, 24)
fe.start()
fe.wait(40, 100)
t0 = peer.clock() - 5000
i0 = fe.index_at(t0)
fe.wait(i0 + 50, 100)
buf = array('h', bytes(2 * 2 * 50))
n = locked_read(fe, buf, (2, 7), i0)
r = irq_health(peer)
r.update({"t0": t0, "i0": i0, "n": n, "out": list(buf), "times": peer.times, "codes": peer.history,
          "lost": fe.lost})
print(json.dumps(r))
""", runtime)
    assert_irqs_clean(r)
    assert r["n"] == 50 and r["lost"] == 0
    i0 = r["i0"]
    # the frame whose conversion came nearest t0 (500 us periods)
    assert abs(r["times"][i0] - r["t0"]) <= 250
    lsb = lsb_uv(24)
    for i in range(50):
        for c, ch in enumerate((2, 7)):
            assert abs(r["out"][2 * i + c] - r["codes"][i0 + i][ch] * lsb / 0.125) <= 0.6
