# The DSP backend of this board, and why: NAME ("ulab" or "fixed") and
# REASON (a short sentence for info and logs). Both backends give the same
# results (docs/DSP.md).
#
# ulab is chosen when the build has scipy.signal.sosfilt with a 4-byte
# float: its filter is C code, faster than the viper fixed-point filter
# (bench/bench_dsp.py), and the rest of the chain is shared. Reached only
# through `from ulab import scipy`: the `ulab.scipy.signal` import form fails
# on builds without builtin subpackages (rp2, stm32). What the build lacks is
# probed here first, so that dsp/ulab.py is not loaded (its names interned
# for good) only to fail.
from stimfw.dsp import fixed


def _probe():
    try:
        import ulab
    except ImportError:
        return None, "no ulab in this build: fixed-point fallback"
    ver = getattr(ulab, "__version__", "?")
    try:
        from ulab import scipy

        scipy.signal.sosfilt  # noqa: B018
    except (ImportError, AttributeError):
        return None, "ulab %s has no scipy.signal.sosfilt: fixed-point fallback" % ver
    from ulab import numpy as np

    size = np.zeros(1, dtype=np.float).itemsize
    if size != 4:
        return None, "ulab %s float is %d bytes, not float32: fixed-point fallback" % (ver, size)
    from stimfw.dsp import ulab as impl

    return impl, "ulab %s: scipy.signal.sosfilt in float32, fixed-point sums" % ver


impl, REASON = _probe()
if impl is None:
    impl = fixed
del _probe
NAME = impl.NAME
