"""What a simulated unit's averages should have measured: the model's
noise-free average of the trials a run delivered (the sim request
"truth_average", docs/SIMULATOR.md), through the band the run declared
(scipy, here on the host: simunit.groundtruth.through), measured with
the unit's own measurement code (stimfw.record.measure) so that a unit's
component and the truth's are compared like with like."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from simunit import dwave as sim_dwave
from simunit.groundtruth import through, wave
from simunit.montage import CHANNEL_INDEX
from stimfw.dsp import filters as device_filters
from stimfw.record import measure

from stimbox.client import StimBox
from stimbox.session import RunResult, run_protocol


@dataclass(frozen=True)
class Site:
    label: str  # the stream's label in the run's results
    output: str  # the output that stimulates it
    record: dict[str, Any]  # its acquisition table


def ssep_sites(protocol: dict[str, Any]) -> list[Site]:
    """The recorded sites of an SSEP protocol (wire form), with the output
    and acquisition table the unit gives each (stimfw.stim.protocol: a site
    without "out" uses P1, P2, ... in order; without "record", the
    protocol's)."""
    out = []
    for i, s in enumerate(protocol["sites"]):
        record = s.get("record", protocol.get("record"))
        if record is not None:
            out.append(Site(str(s["site"]), str(s.get("out", f"P{i + 1}")), dict(record)))
    return out


def recorded_sites(protocol: dict[str, Any]) -> list[Site]:
    """The recorded streams of an SSEP or D-wave protocol (wire form). A
    D-wave protocol is one stream, labelled "dwave", on its output (TC
    unless it names another)."""
    if protocol.get("type") == "dwave":
        record = protocol.get("record")
        return [] if record is None else [Site("dwave", str(protocol.get("out", "TC")), dict(record))]
    return ssep_sites(protocol)


def request(site: Site, channel: int, since_us: int, until_us: int) -> dict[str, Any]:
    """The truth_average request for one channel of a site over the trials
    delivered between since_us and until_us (the model's timeline, as the
    sim replies' now_us), on that record table's sample grid."""
    r = site.record
    return {
        "output": site.output, "channel": channel, "since_us": since_us, "until_us": until_us,
        "rate_hz": r["rate_hz"], "pre_ms": r.get("pre_ms", 0), "post_ms": r["post_ms"],
    }


def band(site: Site) -> list[list[float]]:
    """The rows the unit runs for a record table (designed by the
    firmware's own code when it names a band)."""
    return device_filters.from_config(site.record)


def component(truth: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """spec (a record table's component) measured on a truth average."""
    return measure.component(wave(truth).tolist(), truth["rate_hz"], truth["pre"], spec)


@dataclass
class Compared:
    """One component of one run: what the unit measured, the same
    measurement on the truth average, on the unit's causal average (the
    display average, pulled), and the model's own latencies (the mean over
    the run's trials of each named peak's centre)."""

    site: str
    spec: dict[str, Any]
    rate_hz: int
    trials: int
    unit: dict[str, Any]
    truth: dict[str, Any]
    causal: dict[str, Any] | None
    model: dict[str, dict[str, float]]

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    def lat_error_ms(self, which: dict[str, Any] | None = None) -> float | None:
        """Latency of the first peak, measured (the unit's, or `which`) less the truth's."""
        got = self.unit if which is None else which
        if got["lat_ms"] is None or self.truth["lat_ms"] is None:
            return None
        return float(got["lat_ms"] - self.truth["lat_ms"])

    def model_name(self) -> str:
        """The model's name for the first peak: an SSEP component's own, a
        D-wave's by its epidural channel (D_rostral, D_caudal)."""
        ch = int(self.spec.get("ch", -1))
        for role, name in sim_dwave.CHANNEL.items():
            if CHANNEL_INDEX[name] == ch and "D_" + role in self.model:
                return "D_" + role
        return self.name.split("/")[0]

    def model_lat_error_ms(self) -> float | None:
        """The unit's first-peak latency less the model's for that peak."""
        first = self.model_name()
        if self.unit["lat_ms"] is None or first not in self.model:
            return None
        return float(self.unit["lat_ms"] - self.model[first]["latency_ms"])

    def amp_error(self, which: dict[str, Any] | None = None) -> float | None:
        """Amplitude, measured (the unit's, or `which`) over the truth's, less 1."""
        got = self.unit if which is None else which
        if got["amp_uv"] is None or not self.truth["amp_uv"]:
            return None
        return float(got["amp_uv"] / self.truth["amp_uv"] - 1.0)

    def at_edge(self) -> bool:
        """A latency of the unit's within one sample of its window's edge."""
        step = 1000.0 / self.rate_hz
        lats = (self.unit.get("lat_ms"), self.unit.get("lat2_ms"))
        for lat, win in zip(lats, self.spec["win_ms"], strict=False):
            if lat is not None and (lat - win[0] < step or win[1] - lat < step):
                return True
        return False


def compare_run(box: StimBox, protocol: dict[str, Any], truth: Callable[[dict[str, Any]], dict[str, Any]],
                causal: bool = True) -> tuple[RunResult, list[Compared]]:
    """Run an SSEP or D-wave protocol and compare every component the unit measured
    with the truth average of that run. truth(request) answers a
    truth_average request: the in-process model's (SimUnit.model.
    truth_average) or the unit's sim request (sim_truth(box))."""
    since = int(box.sim()["now_us"])
    result = run_protocol(box, protocol)
    until = int(box.sim()["now_us"])
    rec = result.recording or {}
    streams = {s["stream"]: s for s in rec.get("streams", [])}
    out = []
    for site in recorded_sites(protocol):
        stream = streams.get(site.label)
        if stream is None:
            continue
        for got, spec in zip(stream["components"], site.record.get("components", []), strict=True):
            t = through(truth(request(site, int(spec["ch"]), since, until)), band(site))
            c = None
            if causal:
                wave = box.average(site.label, "ab", int(spec["ch"]))
                c = measure.component(wave, t["rate_hz"], t["pre"], spec)
            out.append(Compared(site.label, spec, int(t["rate_hz"]), int(t["trials"]), got,
                                component(t, spec), c, t["components"]))
    return result, out


# Samples per sim request: the firmware holds each reply in its heap, and
# after a run that heap may not have 2.7 KB in one piece (a whole 500-sample
# average in base64); 128 samples make a reply under 1 KB.
SIM_CHUNK = 128


def sim_truth(box: StimBox) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """truth() for compare_run through the unit's sim request, the average
    fetched SIM_CHUNK samples at a time and joined."""

    def ask(req: dict[str, Any]) -> dict[str, Any]:
        parts = []
        first = 0
        while True:
            r = dict(box.sim(truth_average=dict(req, first=first, count=SIM_CHUNK))["truth_average"])
            parts.append(wave(r))
            first += SIM_CHUNK
            if first >= r["n"]:
                break
        r["first"] = 0
        r["wave_f32"] = base64.b64encode(np.concatenate(parts).astype("<f4").tobytes()).decode()
        return r

    return ask
