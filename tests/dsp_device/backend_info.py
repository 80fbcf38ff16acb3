# Prints the DSP backend this runtime picks, and why, as two lines.
from stimfw.dsp import backend

print(backend.NAME)
print(backend.REASON)
