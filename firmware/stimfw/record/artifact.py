# Stimulus artifact blanking: the samples around each pulse are replaced by a
# straight line between the last sample before and the first sample after the
# window, so that amplifier saturation does not ring through the band-pass.
# Works on one channel's raw int16 sweep (contiguous samples) before
# filtering, with integer arithmetic only (allocates nothing).

# Longest window in samples: keeps (x1 - x0) * k below 2**30 on a 32-bit MCU.
MAX_WINDOW = 1 << 14


def start(t_us, before_us, pre_samples, rate_khz):
    """First blanked sample for a pulse t_us after the trigger (may be < 0).
    Rates in kHz keep t_us * rate below 2**30 (small ints on a 32-bit MCU)."""
    return pre_samples + ((t_us - before_us) * rate_khz) // 1000


def stop(t_us, after_us, pre_samples, rate_khz):
    """One past the last blanked sample (may exceed the sweep)."""
    return pre_samples + ((t_us + after_us) * rate_khz + 999) // 1000


def blank_pulse(buf, n, t_us, before_us, after_us, pre_samples, rate_khz):
    _window(buf, n, start(t_us, before_us, pre_samples, rate_khz),
            stop(t_us, after_us, pre_samples, rate_khz))


def blank_train(buf, n, times_us, n_p, before_us, after_us, pre_samples, rate_khz):
    """blank_pulse() for each of the first n_p pulses (times ascending),
    windows that overlap or touch joined into one: pulse by pulse, a window
    reaching into the next pulse's overload would end on a pinned sample,
    and the line drawn to it would put a step of full scale into the sweep
    (a TcMEP train 3 ms apart with 4 ms blanked after each pulse)."""
    if n_p <= 0:
        return
    a = start(times_us[0], before_us, pre_samples, rate_khz)
    b = stop(times_us[0], after_us, pre_samples, rate_khz)
    for j in range(1, n_p):
        a2 = start(times_us[j], before_us, pre_samples, rate_khz)
        if a2 > b:
            _window(buf, n, a, b)
            a = a2
        b = stop(times_us[j], after_us, pre_samples, rate_khz)
    _window(buf, n, a, b)


def _window(buf, n, a, b):
    if a < 0:
        a = 0
    if b > n:
        b = n
    if b - a > MAX_WINDOW:
        b = a + MAX_WINDOW
    blank(buf, n, a, b)


def blank(buf, n, a, b):
    """Interpolate samples [a, b) of a sweep of n samples.

    Ends at the sweep edge hold the neighbouring sample."""
    if b <= a:
        return
    span = b - a + 1
    if a > 0:
        x0 = buf[a - 1]
    else:
        x0 = buf[b] if b < n else 0
    x1 = buf[b] if b < n else x0
    d = x1 - x0
    i = a
    for k in range(1, span):
        # floor of a non-negative quotient, the same on every runtime
        q = d * k
        if q >= 0:
            buf[i] = x0 + q // span
        else:
            buf[i] = x0 - ((-q) // span)
        i += 1
