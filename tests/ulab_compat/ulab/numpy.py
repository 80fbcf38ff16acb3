"""ulab.numpy on CPython: ulab's dtypes and documented functions, float32."""

from __future__ import annotations

import builtins

import numpy as _np

uint8 = "B"
int8 = "b"
uint16 = "H"
int16 = "h"
float = "f"  # noqa: A001 - ulab's name for its float type
bool = "?"  # noqa: A001

_DT = {uint8: _np.uint8, int8: _np.int8, uint16: _np.uint16, int16: _np.int16,
       float: _np.float32, bool: _np.bool_}
_CODE = {_np.dtype(v): k for k, v in _DT.items()}
pi = 3.1415927
e = 2.7182817
inf = builtins.float("inf")
nan = builtins.float("nan")


def _dtype(code):
    if code not in _DT:
        raise TypeError(f"ulab has no dtype {code!r}")
    return _DT[code]


def _as_np(x):
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, (list, tuple, range)):
        return _np.asarray(x, dtype=_np.float32)
    if isinstance(x, (builtins.int, builtins.float, builtins.bool)):
        return x
    raise TypeError(f"ulab cannot use {type(x).__name__} here")


def _wrap(a):
    a = _np.asarray(a)
    if a.dtype not in _CODE:
        if a.dtype.kind == "f" or a.dtype.kind in "iu":
            a = a.astype(_np.float32)
        else:
            raise TypeError(f"dtype {a.dtype} does not exist in ulab")
    return ndarray(a)


def _scalar(v):
    if isinstance(v, _np.floating):
        return builtins.float(_np.float32(v))
    if isinstance(v, _np.integer):
        return builtins.int(v)
    if isinstance(v, _np.bool_):
        return builtins.bool(v)
    return v


def _result_dtype(a, b):
    """ulab's binary-operator promotion (never int32, never float64)."""
    da = a.dtype if isinstance(a, _np.ndarray) else None
    db = b.dtype if isinstance(b, _np.ndarray) else None
    if da is None:
        da, db = db, da
        a, b = b, a
    if db is None:  # array op scalar
        if isinstance(b, builtins.float) or da == _np.float32:
            return _np.float32
        if isinstance(b, builtins.bool) or da == _np.bool_:
            return _np.uint8 if da == _np.bool_ else da
        info = _np.iinfo(da)
        return da if info.min <= b <= info.max else _np.float32
    if da == db:
        return _np.uint8 if da == _np.bool_ else da
    return _np.float32


class ndarray:
    __slots__ = ("_a",)

    def __init__(self, a):
        if not isinstance(a, _np.ndarray) or a.dtype not in _CODE:
            raise TypeError("not a ulab array")
        self._a = a

    # --- properties and methods ulab documents ---
    @property
    def shape(self):
        return self._a.shape

    @property
    def size(self):
        return self._a.size

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def itemsize(self):
        return self._a.itemsize

    @property
    def dtype(self):
        return _CODE[self._a.dtype]

    @property
    def T(self):
        return ndarray(self._a.T)

    def copy(self):
        return ndarray(self._a.copy())

    def flatten(self):
        return ndarray(self._a.flatten())

    def reshape(self, shape):
        return ndarray(self._a.reshape(shape))

    def tobytes(self):
        return self._a.tobytes()

    def tolist(self):
        return [_scalar(v) if not isinstance(v, list) else v for v in self._a.tolist()]

    def transpose(self):
        return ndarray(self._a.T)

    def sort(self, axis=-1):
        self._a.sort(axis=axis)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for v in self._a:
            yield ndarray(v) if isinstance(v, _np.ndarray) else _scalar(v)

    def __repr__(self):
        return f"array({self._a.tolist()!r}, dtype={self.dtype})"

    def _key(self, key):
        if isinstance(key, ndarray):
            if key._a.dtype != _np.bool_:
                raise IndexError("ulab indexes with integers, slices or a boolean array")
            return key._a
        if isinstance(key, tuple):
            for k in key:
                if not isinstance(k, (builtins.int, slice)):
                    raise IndexError("ulab indexes with integers or slices")
            return key
        if isinstance(key, (builtins.int, slice)):
            return key
        raise IndexError("ulab indexes with integers, slices or a boolean array")

    def __getitem__(self, key):
        v = self._a[self._key(key)]
        return ndarray(v) if isinstance(v, _np.ndarray) else _scalar(v)

    def __setitem__(self, key, value):
        # ulab converts on assignment (float into int16 truncates, as C does).
        v = value._a if isinstance(value, ndarray) else value
        self._a[self._key(key)] = _np.asarray(v).astype(self._a.dtype) if isinstance(v, _np.ndarray) else v

    # --- arithmetic ---
    def _bin(self, other, op, reflect=False):
        o = _as_np(other)
        a, b = (o, self._a) if reflect else (self._a, o)
        dt = _result_dtype(a, b)
        with _np.errstate(all="ignore"):
            if op in ("truediv", "pow"):
                dt = _np.float32
            r = getattr(_np, {"add": "add", "sub": "subtract", "mul": "multiply",
                              "truediv": "true_divide", "pow": "power"}[op])(
                _np.asarray(a).astype(dt) if isinstance(a, _np.ndarray) else a,
                _np.asarray(b).astype(dt) if isinstance(b, _np.ndarray) else b)
        return ndarray(_np.asarray(r).astype(dt))

    def __add__(self, o):
        return self._bin(o, "add")

    def __radd__(self, o):
        return self._bin(o, "add", True)

    def __sub__(self, o):
        return self._bin(o, "sub")

    def __rsub__(self, o):
        return self._bin(o, "sub", True)

    def __mul__(self, o):
        return self._bin(o, "mul")

    def __rmul__(self, o):
        return self._bin(o, "mul", True)

    def __truediv__(self, o):
        return self._bin(o, "truediv")

    def __rtruediv__(self, o):
        return self._bin(o, "truediv", True)

    def __pow__(self, o):
        return self._bin(o, "pow")

    def _inplace(self, o, op):
        r = self._bin(o, op)
        if r._a.dtype != self._a.dtype:
            raise TypeError("cannot cast output with casting rule")
        self._a[...] = r._a
        return self

    def __iadd__(self, o):
        return self._inplace(o, "add")

    def __isub__(self, o):
        return self._inplace(o, "sub")

    def __imul__(self, o):
        return self._inplace(o, "mul")

    def __itruediv__(self, o):
        return self._inplace(o, "truediv")

    def __neg__(self):
        return ndarray(-self._a)

    def __abs__(self):
        return ndarray(_np.abs(self._a))

    def _cmp(self, o, fn):
        return ndarray(getattr(_np, fn)(self._a, _as_np(o)))

    def __eq__(self, o):
        return self._cmp(o, "equal")

    def __ne__(self, o):
        return self._cmp(o, "not_equal")

    def __lt__(self, o):
        return self._cmp(o, "less")

    def __le__(self, o):
        return self._cmp(o, "less_equal")

    def __gt__(self, o):
        return self._cmp(o, "greater")

    def __ge__(self, o):
        return self._cmp(o, "greater_equal")

    __hash__ = None


# --- constructors ---
def array(values, dtype=float):
    dt = _dtype(dtype)
    if isinstance(values, ndarray):
        src = values._a
        if dt != _np.float32 and src.dtype == _np.float32:
            # C cast: truncation toward zero, wrapping like the C conversion
            src = _np.trunc(src).astype(_np.int64)
        return ndarray(_np.asarray(src).astype(dt))
    return ndarray(_np.asarray(values, dtype=_np.float64).astype(dt))


def zeros(shape, dtype=float):
    return ndarray(_np.zeros(shape, dtype=_dtype(dtype)))


def ones(shape, dtype=float):
    return ndarray(_np.ones(shape, dtype=_dtype(dtype)))


def full(shape, fill_value, dtype=float):
    return ndarray(_np.full(shape, fill_value, dtype=_dtype(dtype)))


def empty(shape, dtype=float):
    return zeros(shape, dtype)


def arange(*args, dtype=None):
    a = _np.arange(*args)
    return ndarray(a.astype(_dtype(dtype) if dtype else (_np.int16 if a.dtype.kind == "i" else _np.float32)))


def linspace(start, stop, num=50, endpoint=True, dtype=float):
    return ndarray(_np.linspace(start, stop, num, endpoint=endpoint).astype(_dtype(dtype)))


def frombuffer(buffer, dtype=float, count=-1, offset=0):
    """Shares the buffer's memory, as ulab does."""
    return ndarray(_np.frombuffer(buffer, dtype=_dtype(dtype), count=count, offset=offset))


# --- reductions and element-wise functions ---
def _reduce(fn, a, axis=None):
    r = getattr(_np, fn)(_as_np(a), axis=axis)
    if isinstance(r, _np.ndarray):
        return _wrap(r)
    return _scalar(_np.float32(r)) if fn in ("mean", "std") else _scalar(r)


def sum(a, axis=None):  # noqa: A001
    arr = _as_np(a)
    r = _np.sum(arr.astype(_np.float32) if arr.dtype.kind in "iub" else arr, axis=axis, dtype=_np.float32)
    return _wrap(r) if isinstance(r, _np.ndarray) else _scalar(_np.float32(r))


def mean(a, axis=None):
    return _reduce("mean", a, axis)


def std(a, axis=None, ddof=0):
    r = _np.std(_as_np(a).astype(_np.float32), axis=axis, ddof=ddof)
    return _wrap(r) if isinstance(r, _np.ndarray) else _scalar(_np.float32(r))


def max(a, axis=None):  # noqa: A001
    return _reduce("max", a, axis)


def min(a, axis=None):  # noqa: A001
    return _reduce("min", a, axis)


def argmax(a, axis=None):
    return _reduce("argmax", a, axis)


def argmin(a, axis=None):
    return _reduce("argmin", a, axis)


def clip(a, a_min, a_max):
    arr = _as_np(a)
    dt = _result_dtype(arr, a_min if isinstance(a_min, builtins.float) else a_max)
    return ndarray(_np.clip(arr.astype(dt), a_min, a_max).astype(dt))


def around(a, decimals=0):
    return ndarray(_np.around(_as_np(a).astype(_np.float32), decimals).astype(_np.float32))


def _ufunc(name):
    def f(a):
        return _wrap(getattr(_np, name)(_as_np(a).astype(_np.float32)).astype(_np.float32))

    f.__name__ = name
    return f


for _n in ("floor", "ceil", "sqrt", "exp", "log", "log10", "log2", "sin", "cos", "tan",
           "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh"):
    globals()[_n] = _ufunc(_n)


def diff(a, n=1, axis=-1):
    return _wrap(_np.diff(_as_np(a), n=n, axis=axis))


def convolve(a, v):
    return _wrap(_np.convolve(_as_np(a).astype(_np.float32), _as_np(v).astype(_np.float32)))


def interp(x, xp, fp, left=None, right=None):
    return _wrap(_np.interp(_as_np(x), _as_np(xp), _as_np(fp), left=left, right=right).astype(_np.float32))


def where(cond, x, y):
    return _wrap(_np.where(_as_np(cond), _as_np(x), _as_np(y)))


def roll(a, shift, axis=None):
    return ndarray(_np.roll(_as_np(a), shift, axis=axis))


def dot(a, b):
    r = _np.dot(_as_np(a).astype(_np.float32), _as_np(b).astype(_np.float32))
    return _wrap(r) if isinstance(r, _np.ndarray) else _scalar(_np.float32(r))
