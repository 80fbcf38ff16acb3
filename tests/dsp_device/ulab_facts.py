# The real-ulab behaviours the ulab backend is built around, checked on the
# runtime at hand (micropython-mcu32). Prints one JSON line.
import gc
import json
from array import array

import micropython
from ulab import numpy as np
from ulab import scipy

r = {}
try:
    from ulab.scipy.signal import sosfilt  # noqa: F401

    r["subpackage_import"] = "works"
except ImportError:
    r["subpackage_import"] = "ImportError"
r["attribute_sosfilt"] = callable(scipy.signal.sosfilt)
r["float_itemsize"] = np.zeros(1, dtype=np.float).itemsize


def locked(f):
    """'ok' when f() allocates nothing, else the exception's type."""
    micropython.heap_lock()
    try:
        f()
        return "ok"
    except Exception as e:  # noqa: BLE001 - the type is the finding
        return type(e).__name__
    finally:
        micropython.heap_unlock()


def allocated(f):
    gc.collect()
    gc.disable()
    m = gc.mem_alloc()
    f()
    d = gc.mem_alloc() - m
    gc.enable()
    return d


a = np.zeros(1000, dtype=np.float)
b = np.ones(1000, dtype=np.float)
buf = array("h", bytearray(2000))
raw = np.frombuffer(buf, dtype=np.int16)
SOS = ((0.2, 0.4, 0.2, 1.0, -0.4, 0.2), (1.0, -2.0, 1.0, 1.0, -1.95, 0.95),
       (1.0, -1.99, 1.0, 1.0, -1.99, 0.998))
sos_nd = np.array(SOS)


def iadd():
    global a
    a += b


def isub_scalar():
    global a
    a -= 3


r["inplace_add"] = locked(iadd)
r["inplace_add_bytes"] = allocated(iadd)
r["inplace_scalar"] = locked(isub_scalar)
r["slice"] = locked(lambda: raw[0:10])
r["slice_bytes"] = allocated(lambda: raw[0:10])
r["frombuffer"] = locked(lambda: np.frombuffer(buf, dtype=np.int16))
r["sosfilt"] = locked(lambda: scipy.signal.sosfilt(SOS, raw))
r["sosfilt_bytes"] = allocated(lambda: scipy.signal.sosfilt(SOS, raw))
r["sosfilt_ndarray_sos_bytes"] = allocated(lambda: scipy.signal.sosfilt(sos_nd, raw))
zi = np.zeros((3, 2), dtype=np.float)
buf[0] = 1000
y, zf = scipy.signal.sosfilt(SOS, raw, zi=zi)
r["zf_is_new"] = zf is not zi
r["zi_untouched"] = np.max(zi) == 0 and np.min(zi) == 0
r["sosfilt_out_dtype_float"] = y.dtype == np.float
print(json.dumps(r))
