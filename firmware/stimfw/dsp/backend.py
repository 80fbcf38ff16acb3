# The DSP backend of this board: ulab where the firmware has it, otherwise
# the fixed-point viper fallback. Both give the same results (docs/DSP.md).
# ulab itself is probed first: importing dsp_ulab without it would load
# that module's code (and intern its names for good) only to fail.
# REASON says why the fixed backend runs where it does ("" with ulab).
REASON = ""
try:
    import ulab  # noqa: F401
except ImportError:
    REASON = "no ulab in this firmware"
    impl = None
else:
    try:
        from stimfw.dsp import ulab as impl
    except ImportError as e:
        # ulab is there but lacks a piece the backend imports.
        REASON = "ulab backend does not import: %s" % e
        impl = None
if impl is None:
    from stimfw.dsp import fixed as impl

NAME = impl.NAME
