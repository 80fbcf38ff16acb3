# ruff: noqa: F821 - ptr16 is a viper type name
# Synthetic SSEP sweeps for the device memory test, one channel at a time,
# made on the device so that no host link is involved.
import micropython


@micropython.viper
def synth(buf: ptr16, n: int, c: int, seed: int) -> int:
    # response template: N20 (-16 LSB, 19 ms) on channel 0 and P37 on channel 1,
    # a 3 mV artifact in the first ms, LCG noise of +-64 LSB, offset 400 LSB
    x = seed
    for i in range(n):
        x = (x * 1664525 + 12345) & 0x3FFFFFFF  # constants fit a small int on any port
        v = 400 + ((x >> 16) & 127) - 64
        if 50 <= i and i < 55:
            v += 24000
        if c == 0 and 140 <= i and i < 150:
            v -= 16
        if c == 1 and 230 <= i and i < 245:
            v += 12
        buf[i] = v
    return x
