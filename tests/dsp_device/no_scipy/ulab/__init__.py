# A ulab build without scipy, for the backend fallback test: the package
# has numpy only (see tests/test_dsp_backends.py).
__version__ = "0.0.0-test"
