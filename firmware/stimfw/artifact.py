# Stimulus artifact blanking: the samples around each pulse are replaced by a
# straight line between the last sample before and the first sample after the
# window, so that amplifier saturation does not ring through the band-pass.
# Works on the raw interleaved int16 sweep before filtering, for every
# channel at once, with integer arithmetic only (allocates nothing).

# Longest window in samples: keeps (x1 - x0) * k below 2**30 on a 32-bit MCU.
MAX_WINDOW = 1 << 14


def window(t_us, before_us, after_us, pre_samples, rate_hz, n):
    """Sample range [a, b) blanked for a pulse at t_us after the trigger,
    clipped to the sweep; (0, 0) when it falls outside."""
    a = pre_samples + ((t_us - before_us) * rate_hz) // 1000000
    b = pre_samples + ((t_us + after_us) * rate_hz + 999999) // 1000000
    if a < 0:
        a = 0
    if b > n:
        b = n
    if b - a > MAX_WINDOW:
        b = a + MAX_WINDOW
    if b <= a:
        return 0, 0
    return a, b


def blank(buf, n_ch, n, a, b):
    """Interpolate samples [a, b) of every channel of an interleaved sweep.

    Ends at the sweep edge hold the neighbouring sample."""
    if b <= a:
        return
    span = b - a + 1
    for c in range(n_ch):
        if a > 0:
            x0 = buf[(a - 1) * n_ch + c]
        else:
            x0 = buf[b * n_ch + c] if b < n else 0
        x1 = buf[b * n_ch + c] if b < n else x0
        d = x1 - x0
        i = a * n_ch + c
        for k in range(1, span):
            # floor of a non-negative quotient, the same on every runtime
            q = d * k
            if q >= 0:
                buf[i] = x0 + q // span
            else:
                buf[i] = x0 - ((-q) // span)
            i += n_ch
