# The board HAL contract: every call the firmware makes on a board's hardware
# layer (boards/<name>/hal.py, class Hal), with its units, allocation rules
# and timing. docs/HAL.md is the readable summary of this file.
#
# A board's Hal subclasses Hal below and overrides what its hardware does.
# The clocks default to the time module (right for a board whose timeline
# clock is time.ticks_*); every other call raises NotProvided, naming the
# class and the call, so a missing piece fails at its first use with a clear
# message. sim() belongs to the simulated unit alone: elsewhere it raises
# Unsupported, which the link answers with an "unsupported" error.
#
# The contract is every public method of Hal below, and its one attribute,
# console. tests/test_board_contract.py holds each board and docs/HAL.md to it.
#
# The bottom of the firmware: imports nothing from stimfw. mpy-cross drops
# docstrings, so they cost a board nothing; loaded from .mpy the module takes
# about 2 KB of a 32-bit board's heap. What board.py must declare is checked
# on the host (stimbox.build) and costs the board nothing.
import time


class NotProvided(NotImplementedError):
    """A contract call this Hal does not implement: the board (or a test
    stand-in) lacks a piece the firmware needs."""


class Unsupported(Exception):
    """A call this kind of board cannot serve, by design (sim() on real
    hardware). The link answers it with an "unsupported" error reply."""


class Hal:
    # The link's byte pipe (stimfw.link.console.StdioConsole on every board:
    # the REPL's USB CDC, or the simulated unit's pseudo-terminal). Set by
    # the board's __init__.
    console = None

    def _missing(self, call):
        return NotProvided("%s does not provide %s() (HAL contract: stimfw/hal_api.py)"
                           % (type(self).__name__, call))

    # --- clocks ---------------------------------------------------------------
    def ticks_ms(self):
        """The timeline clock in ms, in time.ticks_* arithmetic: it wraps at
        the port's ticks period (2**30 on a board) and compares only through
        ticks_diff. A small int: allocates nothing. On the simulated unit it
        is virtual time."""
        return time.ticks_ms()

    def ticks_us(self):
        """The timeline clock in us (as ticks_ms). Stimulus and acquisition
        times are on this clock. Allocates nothing."""
        return time.ticks_us()

    def ticks_diff(self, a, b):
        """a - b on the timeline clock, as time.ticks_diff: signed, correct
        across a wrap while the distance is under half the period (2**29 us,
        about 9 min, on a board). Allocates nothing."""
        return time.ticks_diff(a, b)

    def ticks_add(self, t, d):
        """t + d on the timeline clock, wrapped, as time.ticks_add; d may be
        negative. Allocates nothing."""
        return time.ticks_add(t, d)

    def wall_ms(self):
        """Elapsed real time in ms (ticks arithmetic), for the host heartbeat
        watchdog, link timeouts and event times. On a board the same clock
        as ticks_ms(); on the simulated unit it stays real while the timeline
        clock runs fast. Allocates nothing."""
        return time.ticks_ms()

    def idle(self, timeout_ms, until_us=None):
        """Nothing to do: wait for host input on the console for at most
        timeout_ms (ms), returning as soon as a byte is waiting. until_us is
        the next timeline deadline (ticks_us) the firmware waits for, or
        None; the simulated unit in fast mode jumps its virtual clock there
        when no host input waits. Returns nothing; allocates nothing."""
        raise self._missing("idle")

    def reset(self):
        """Soft reset: the board reboots into main.py (the simulated unit's
        process ends and its supervisor starts it again). Does not return.
        Called after outputs_off() and console.stop()."""
        raise self._missing("reset")

    def reset_cause(self):
        """Why the unit last started: (cause, detail or None), cause one of
        power_on, soft, interrupt, watchdog, hard, crash, unknown (detail:
        how it crashed); docs/HAL.md. A board maps machine.reset_cause()."""
        return "unknown", None

    # --- safety ---------------------------------------------------------------
    def interlock_closed(self):
        """True while the hardware interlock (key or footswitch) is closed.
        Polled on every main-loop pass: fast (a pin read), allocates nothing."""
        raise self._missing("interlock_closed")

    def estop_pressed(self):
        """True while the emergency-stop input is active. Polled on every
        main-loop pass: fast, allocates nothing."""
        raise self._missing("estop_pressed")

    def outputs_off(self):
        """Every stimulator output to its safe state (off, disconnected) now,
        before returning. Idempotent, callable at any time and in any state,
        including from an exception handler. Allocates nothing."""
        raise self._missing("outputs_off")

    def start_watchdog(self, timeout_ms):
        """Start the hardware watchdog (machine.WDT on a board) with
        timeout_ms (board.WATCHDOG_MS): if feed_watchdog() is not called
        for that long, the outputs stop and the board resets. Called once,
        as the main loop starts."""
        raise self._missing("start_watchdog")

    def feed_watchdog(self):
        """The main loop is alive: called once per pass. Fast (a register
        write), allocates nothing."""
        raise self._missing("feed_watchdog")

    def stop_watchdog(self):
        """The main loop ends (the host interrupted it for the REPL): stop
        the watchdog where the hardware can, returning True; False where it
        cannot (machine.WDT on rp2 and stm32: the board then resets
        timeout_ms later). Called after outputs_off()."""
        raise self._missing("stop_watchdog")

    # --- stimulation ----------------------------------------------------------
    def fire(self, timeline, start_us):
        """Schedule a compiled stimfw.stim.timeline.Timeline to run from
        start_us on the timeline clock (ticks_us arithmetic). Its rows give
        each pulse's offset from start_us and phase widths in us (1 us
        resolution), amplitudes in the output's unit (uA on a constant-
        current output, mV on constant voltage) and electrode masks. Returns
        at once: the hardware (PIO/DMA, timers, the simulator's output
        model) makes every edge, Python times none. The caller leaves the
        timeline untouched until fire_done(), so the HAL may run it in
        place. Allocates nothing beyond what the board set up once."""
        raise self._missing("fire")

    def fire_done(self):
        """True once the last fired timeline has finished, or was ended by
        abort() or outputs_off(). Fast, allocates nothing."""
        raise self._missing("fire_done")

    def abort(self):
        """End output now (stop command, e-stop, heartbeat loss): no edge of
        the fired timeline after this returns; pulses already delivered stay
        readable through monitor(). Idempotent, allocates nothing."""
        raise self._missing("abort")

    def fired_count(self):
        """The output stage's own count of the pulses it has started, as a
        small int modulo 2**16 (a 16-bit hardware counter): compare two
        readings only as (b - a) & 0xFFFF. Hardware state, not firmware RAM: the count
        goes on while the firmware hangs and keeps its value across a crash,
        a soft reset and a watchdog reset (not across power loss), so the
        next boot can tell how many pulses of the last fired timeline went
        out after the firmware stopped reading them back. A board counts the
        output gate's edges in hardware (an RP2040 PWM slice in edge-counting
        mode on the gate pin, or the PIO program's own pulse counter, copied
        by DMA into a watchdog scratch register or .noinit RAM; on an STM32 a
        timer clocked by the gate, copied into a backup register). Fast,
        allocates nothing. A board that cannot count raises NotProvided: the
        firmware then journals an upper bound (every pulse of the segment
        not read back may have fired), never silently nothing; so it does
        after a power-on reset, when no count survived."""
        raise self._missing("fired_count")

    def monitor(self, pulse_index, buf):
        """The output monitor ADC's samples across pulse pulse_index of the
        last fired timeline: current and voltage interleaved (buf[2k],
        buf[2k + 1]), int16, into the caller's preallocated buffer (an
        array('h') of up to 2 * board.MONITOR_MAX_SAMPLES). Returns the
        samples per trace written, at most len(buf) // 2, or 0 until that
        pulse has gone out. The trace starts board.MONITOR_PRE_SAMPLES
        samples before the pulse's scheduled start. Scales: board.OUTPUTS[i]["mon_ua_lsb"] (uA) and
        ["mon_mv_lsb"] (mV) per LSB, at board.MONITOR_RATE_HZ. Allocates
        nothing."""
        raise self._missing("monitor")

    # --- acquisition ----------------------------------------------------------
    def acquire(self, t0_us, rate_hz, channels, buf):
        """Amplifier samples from t0_us on the timeline clock (which may lie
        before the trigger: the ADC runs into a ring buffer) at rate_hz (one
        of board.AMP_RATES_HZ), for channels (a sequence of small ints,
        0..board.AMP_CHANNELS - 1), into the caller's preallocated int16
        buffer, interleaved by sample: buf[i * len(channels) + c], with
        len(buf) // len(channels) samples per channel. Waits until the
        window has been sampled (the simulated unit in fast mode moves its
        clock to its end). Returns the samples per channel written. Scale:
        board.AMP_UV_PER_LSB uV per LSB. Allocates nothing."""
        raise self._missing("acquire")

    def impedance(self, electrode):
        """Impedance of the named recording electrode (a name from
        board.AMP_ELECTRODES or an output's electrodes), in ohms (int), from
        a small test signal. Takes milliseconds; not for a stimulating run.
        Raises ValueError for an unknown electrode."""
        raise self._missing("impedance")

    # --- simulated unit only --------------------------------------------------
    def sim(self, request):
        """Sim-only control and ground truth (request: a dict; see
        docs/SIMULATOR.md): interlock, e-stop, loads, scenario, model state.
        Returns the reply dict; raises ValueError for a request the model
        refuses. Boards have no such thing: Unsupported, by default."""
        raise Unsupported("%s: sim requests need a simulated unit" % type(self).__name__)
