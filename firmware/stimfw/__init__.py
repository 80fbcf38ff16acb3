# StimBox firmware package. Runs on the board under MicroPython; the modules
# that the host also needs (link.codec, link.messages, stim.protocol,
# stim.limits, core.errors) import unchanged under CPython.
