# Runs before main.py on every boot. Room for the traceback of an exception
# raised in an interrupt handler, which cannot allocate one itself.
import micropython

# The Unix port (simulated unit) has no such buffer and needs none.
if hasattr(micropython, "alloc_emergency_exception_buf"):
    micropython.alloc_emergency_exception_buf(100)
