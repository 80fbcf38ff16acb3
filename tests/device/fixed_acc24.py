# Device side of tests/test_dsp_fixed_overflow.py: k sweeps at the rails into
# channel 0 of a 24-bit accumulator and the first k1 of them into channel 1;
# prints each channel's shift, count and words.
from array import array

import devargs
from stimfw.dsp import fixed as d

cfg = devargs.data()
n, k, k1 = cfg["n"], cfg["k"], cfg["k1"]
a = d.Acc24(2, n)
pos = array("h", [32767] * (n // 2) + [-32768] * (n // 2))
for j in range(k):
    a.add(pos, 0)
    if j < k1:
        a.add(pos, 1)
for c in (0, 1):
    print(a.shift[c], a.count[c], [d.acc3_get(a.block, 3 * (n * c + i)) for i in range(n)])
