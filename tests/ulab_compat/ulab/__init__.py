"""A CPython stand-in for ulab, for tests only.

It exposes the part of ulab's documented API the firmware may use, computes
in float32 like an MCU build, and refuses what ulab does not have (int32 and
float64 arrays, numpy-only functions and methods, fancy indexing), so that
firmware code written against numpy features fails its tests here."""

__version__ = "6.5.0-compat"
