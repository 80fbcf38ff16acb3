# The DSP backend of this board: ulab where the firmware has it, otherwise
# the fixed-point viper fallback. Both give the same results (docs/DSP.md).
try:
    from stimfw import dsp_ulab as impl
except ImportError:
    from stimfw import dsp_fixed as impl

NAME = impl.NAME
