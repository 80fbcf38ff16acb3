# Device side of tests/test_firmware_build.py: import every module named in
# data, all of them at once, as a unit loads them; "ok <name>" for each.
import devargs

for name in devargs.data():
    __import__(name)
    print("ok", name)
