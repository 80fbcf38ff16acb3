# Pieces of the Pico 2 board's HAL (hal.py) kept apart so that each module
# compiles in a small heap: the module-level buffers and front-end, the
# PWM edge counters, and the settings words and gate wiring of a fired
# timeline. Device module; see hal.py for how they fit together.
import time

import board
import machine
from machine import Pin
from micropython import const
from stimfw.core.buffers import zeros
from stimfw.frontend.ads1299 import ADS1299

mem32 = machine.mem32

_IO_BANK0 = const(0x40028000)  # GPIOn_CTRL at 8n + 4; FUNCSEL in bits 4:0
_FUNC_PWM = const(4)
_PWM = const(0x400A8000)  # slice n at 0x14 n: CSR, DIV, CTR, CC, TOP
_PWM_EN = const(1)
SETTINGS_HALFWORDS = const(3)  # per phase end: amp1 code, amp2 code, routing


def _fe_clock():
    # The front-end stamps frames on the timeline clock, the one acquire()'s
    # t0_us is on: the Hal's, once there is one.
    h = OWNER[0]
    return time.ticks_us() if h is None else h.ticks_us()


def _frontend():
    p = board.PINS
    spi = machine.SPI(board.SPI_FRONTEND, baudrate=board.SPI_FRONTEND_BAUD, polarity=0, phase=1,
                      bits=8, sck=Pin(p["AFE_SCK"]), mosi=Pin(p["AFE_MOSI"]),
                      miso=Pin(p["AFE_MISO"]))
    # The driver sets the DRDY interrupt itself (start()).
    return ADS1299(spi, Pin(p["AFE_CS"], Pin.OUT, value=1), Pin(p["AFE_DRDY"], Pin.IN),
                   start=Pin(p["AFE_START"], Pin.OUT, value=0),
                   reset=Pin(p["AFE_RESET"], Pin.OUT, value=1),
                   pwdn=Pin(p["AFE_PWDN"], Pin.OUT, value=1),
                   devices=board.AMP_DEVICES, ring_samples=board.AMP_RING_SAMPLES,
                   uv_per_lsb=board.AMP_UV_PER_LSB, clock=_fe_clock)


# The two rings, the largest blocks this board needs (the front-end's and
# the monitor's), are made at import: the firmware imports this module right
# after reserving its DSP arena (stimfw/app.py), while the heap is still one
# free run, and a Hal built later would find it in pieces.
OWNER = [None]
FE = _frontend()
RING = zeros("H", 2 * board.MONITOR_RING_PAIRS)


def edge_slice(gpio, n, mode, top, start=0):
    # A PWM slice counting the edges (mode) of its B input, gpio.
    Pin(gpio, Pin.IN)
    mem32[_IO_BANK0 + 8 * gpio + 4] = _FUNC_PWM
    s = _PWM + 0x14 * n
    mem32[s] = 0
    mem32[s + 4] = 1 << 4  # divide by 1: every edge counts
    mem32[s + 16] = top
    mem32[s + 8] = start
    mem32[s] = _PWM_EN | mode
    return s


def settings(s, tl, i, k):
    # Pulse i's settings words into slot k of the table: the two phases'
    # DAC codes (magnitudes), then the routing: output, REVERSE (phase 1
    # runs from the cathodes to the anodes: an anodic pulse), anodes,
    # cathodes.
    j = k * SETTINGS_HALFWORDS
    res = board.OUTPUTS[tl.output[i]]["res"]
    a = tl.amp[i]
    s[j] = (a if a >= 0 else -a) // res
    a2 = tl.amp2[i]
    s[j + 1] = (a2 if a2 >= 0 else -a2) // res
    s[j + 2] = ((tl.output[i] << 13) | ((1 << 12) if a < 0 else 0)
                | ((tl.anodes[i] & 0x3F) << 6) | (tl.cathodes[i] & 0x3F))

def phase_gates(w, tl, used):
    # stimpio drives gate A for a positive phase and B for a negative
    # one. This stage wires GATE_1 (gate A's pin) to phase 1 and GATE_2
    # to phase 2, their direction set by REVERSE: so the words of every
    # pulse whose first phase is negative swap their gate bits. GATE_1
    # then rises exactly once per pulse, and its PWM counter counts pulses.
    i = -1
    left = 0  # gate-on words of pulse i still to come
    k = 0
    while k < used:
        if w[k] & 3:
            if not left:
                i += 1
                left = 2 if tl.w2_us[i] else 1
            left -= 1
            if tl.amp[i] < 0:
                w[k] ^= 3
        k += 1
