# StimBox firmware package. Runs on the board under MicroPython; the modules
# that the host also needs (linkcodec, messages, protocol and limit checks)
# import unchanged under CPython.
