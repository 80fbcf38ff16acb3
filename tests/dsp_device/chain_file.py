# Runs one backend's chain over int16 data in a file, writing the results
# to files (parameters: devparams).
#   mode "sweeps": SweepChain(n_ch, n, sos); the input is consecutive
#     one-channel sweeps of n samples, channel c = k % n_ch of sweep
#     k // n_ch. Each is filtered in place (if "process") and written to
#     "dst" (if given), and added to its channel's split (if "accumulate":
#     split = sweep & 1). With "means", the means of split 0, 1 and 2 of
#     every channel are written there as float32 (split, channel, sample),
#     and each split's shifts are printed.
#   mode "freerun": FreeRunChain(n_ch, sos) over interleaved blocks of
#     "block" samples per channel, written to "dst".
from array import array

import devparams

P = devparams.load()
be = devparams.backend(P["backend"])
n_ch = P["n_ch"]
if P["mode"] == "sweeps":
    n = P["n"]
    ch = be.SweepChain(n_ch, n, P["sos"])
    buf = array("h", bytearray(2 * n))
    out = open(P["dst"], "wb") if P.get("dst") else None
    k = 0
    with open(P["src"], "rb") as f:
        while f.readinto(buf) == 2 * n:
            if P.get("process", True):
                ch.process(buf)
            if out:
                out.write(buf)
            if P.get("accumulate"):
                ch.accumulate(buf, (k // n_ch) & 1, k % n_ch)
            k += 1
    if out:
        out.close()
    if P.get("means"):
        one = array("f", [0.0])
        row = array("f", bytearray(4 * n))
        with open(P["means"], "wb") as g:
            for s in (0, 1, 2):
                for c in range(n_ch):
                    for i in range(n):
                        ch.mean_at(s, c, i, one)
                        row[i] = one[0]
                    g.write(row)
        print([list(a.shift) for a in ch.acc])
else:
    block = P["block"]
    ch = be.FreeRunChain(n_ch, P["sos"])
    buf = array("h", bytearray(2 * n_ch * block))
    with open(P["src"], "rb") as f, open(P["dst"], "wb") as g:
        while f.readinto(buf) == len(buf) * 2:
            ch.process(buf, block)
            g.write(buf)
print(be.NAME)
