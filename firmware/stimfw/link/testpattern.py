# The link self-test object: deterministic bytes that look like what bulk
# pulls carry (int16 samples of a slow wave plus noise), so wire-efficiency
# figures measured with it hold for real data. The host imports this module
# too, to check what it received.


def test_pattern(size):
    buf = bytearray(size)
    x = 12345
    for i in range(0, size - 1, 2):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        v = ((i >> 3) & 0x3FF) - 512 + ((x >> 16) & 0xFF) - 128
        buf[i] = v & 0xFF
        buf[i + 1] = (v >> 8) & 0xFF
    return buf
