# Analogue front-end drivers: the recording amplifiers' ADCs that a board's
# hal.py wires to its SPI bus and pins (ads1299.py: an ADS1299-class 24-bit
# biopotential front-end, one device or two daisy-chained). The layer sits at
# the bottom of the firmware beside hal_api: it imports nothing from stimfw,
# and only a board's HAL imports it. docs/FRONTEND.md.
