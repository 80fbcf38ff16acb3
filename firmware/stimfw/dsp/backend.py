# The DSP backend of this board: ulab where the firmware has it, otherwise
# the fixed-point viper fallback. Both give the same results (docs/DSP.md).
# ulab itself is probed first: importing dsp_ulab without it would load
# that module's code (and intern its names for good) only to fail.
try:
    import ulab  # noqa: F401
except ImportError:
    from stimfw.dsp import fixed as impl
else:
    from stimfw.dsp import ulab as impl

NAME = impl.NAME
