# Preallocated buffers. array(typecode, bytes(n)) would hold the bytes object
# and the array at once, twice the buffer's size, just when a large buffer is
# being placed. Growing the array from a small zero block instead lets the
# heap extend it in place, so a buffer costs its own size and no more.
from array import array

_CHUNK = 256  # bytes of zeros appended per step


def zeros(typecode, n):
    """A zeroed array of n items of typecode."""
    size = 8 // len(array(typecode, bytes(8)))
    if n * size <= _CHUNK:
        # Small: made directly. A chunk made (and dropped) for each small
        # array would leave a hole beside every one of them.
        return array(typecode, bytes(n * size))
    z = array(typecode, bytes(_CHUNK))
    k = len(z)
    a = array(typecode)
    while n >= k:
        a.extend(z)
        n -= k
    if n:
        a.extend(array(typecode, bytes(n * (_CHUNK // k))))
    return a
