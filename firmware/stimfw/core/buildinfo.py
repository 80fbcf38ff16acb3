# Which files are running. The deploy tool writes manifest.json into the
# firmware slot; the build hash is recomputed here from the files on the
# unit's flash, so info() proves what runs rather than repeating what the
# host claimed.
import hashlib
import json

from stimfw.core.version import FIRMWARE_VERSION

MANIFEST = "manifest.json"

_cached = None


def _slot_dir():
    # This file is <slot>/stimfw/core/buildinfo.py: the slot is three levels up.
    path = __file__
    for _ in range(3):
        if "/" not in path:
            return "."
        path = path.rsplit("/", 1)[0]
    return path


def build_hash(slot_dir, files):
    """sha256 over each file's path and contents, in manifest order."""
    h = hashlib.sha256()
    buf = bytearray(512)
    for rel in files:
        h.update(rel.encode())
        h.update(b"\0")
        with open(slot_dir + "/" + rel, "rb") as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                h.update(memoryview(buf)[:n])
    return "".join("%02x" % b for b in h.digest())


def info():
    """Firmware identity: version, slot, build hash and whether it matches."""
    global _cached
    if _cached is None:
        slot = _slot_dir()
        d = {"version": FIRMWARE_VERSION, "slot": slot, "build": None, "build_ok": False}
        try:
            with open(slot + "/" + MANIFEST) as f:
                man = json.load(f)
            d["build"] = build_hash(slot, man["files"])
            d["build_ok"] = d["build"] == man["build"]
        except (OSError, ValueError, KeyError) as e:
            d["build_error"] = repr(e)
        _cached = d
    return _cached

