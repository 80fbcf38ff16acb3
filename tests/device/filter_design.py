# Device side of tests/test_dsp_modules.py: the device's own filter design
# (2nd-order Butterworth high- and low-pass, notch); prints the SOS rows.
import json

from stimfw.dsp import design as d

print(json.dumps([d.butter2("high", 30, 5000), d.butter2("low", 1000, 5000), d.notch(60, 10000)]))
