# Device side of tests/test_linkcodec.py: encode the cases (data["cases"]:
# [kind, type, id, payload bytes]) and decode the host's frames
# (data["host"], hex); prints both as JSON.
import binascii
import json

import devargs
from stimfw.link import codec as lc

d = devargs.data()
res = {"mp_wire": [], "decoded": []}
for k, t, r, p in d["cases"]:
    res["mp_wire"].append(binascii.hexlify(lc.encode_frame(k, t, r, bytes(p))).decode())
got = []
dec = lc.Decoder(1024, got.append, copy_payload=True)
for w in d["host"]:
    dec.feed(binascii.unhexlify(w))
for f in got:
    res["decoded"].append([f.kind, f.mtype, f.req_id, list(f.payload)])
print(json.dumps(res))
