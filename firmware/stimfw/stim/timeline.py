# A compiled stimulus timeline: what the board HAL executes. One row per
# pulse, in preallocated 32-bit columns, so a timeline costs a fixed amount of
# heap and the HAL can hand the columns to DMA (or the simulator) as they are.
#
# Edges of pulse i, in us from the timeline's start:
#   phase 1: t_us[i]                 .. t_us[i] + w1_us[i]           at amp[i]
#   gap:     .. + gap_us[i]                                          at 0
#   phase 2: .. + w2_us[i]                                           at amp2[i]
# w2_us == 0 means monophasic. Amplitudes are in the output's unit (uA for a
# constant-current output, mV for constant voltage); a positive amplitude
# drives current from the anodes to the cathodes.
from stimfw.core.buffers import zeros

COLUMNS = ("t_us", "output", "amp", "w1_us", "gap_us", "w2_us", "amp2", "anodes", "cathodes")


class Timeline:
    def __init__(self, capacity):
        self.capacity = capacity
        self.n = 0
        self.duration_us = 0
        for name in COLUMNS:
            setattr(self, name, zeros("i", capacity))
        # Not for the HAL: which protocol stream each pulse belongs to and
        # its place in its train (0: the train's first pulse, which starts
        # the stream's recording sweep).
        self.stream = zeros("i", capacity)
        self.train_pos = zeros("i", capacity)

    def clear(self):
        self.n = 0
        self.duration_us = 0

    def add(self, t_us, output, amp, w1_us, gap_us, w2_us, amp2, anodes, cathodes):
        i = self.n
        if i >= self.capacity:
            raise ValueError("timeline full (%d pulses)" % self.capacity)
        self.t_us[i] = t_us
        self.output[i] = output
        self.amp[i] = amp
        self.w1_us[i] = w1_us
        self.gap_us[i] = gap_us
        self.w2_us[i] = w2_us
        self.amp2[i] = amp2
        self.anodes[i] = anodes
        self.cathodes[i] = cathodes
        self.n = i + 1
        end = t_us + w1_us + gap_us + w2_us
        if end > self.duration_us:
            self.duration_us = end
        return i

    def tag(self, i, stream, train_pos):
        self.stream[i] = stream
        self.train_pos[i] = train_pos

    def pulse_end_us(self, i):
        return self.t_us[i] + self.w1_us[i] + self.gap_us[i] + self.w2_us[i]
