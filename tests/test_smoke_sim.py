"""The simulated unit boots the firmware and answers over the link."""

from simunit.supervisor import SimUnit
from stimbox.client import StimBox


def test_info_reports_identity(sim_unit: SimUnit, box: StimBox, firmware_image) -> None:
    info = box.info()
    assert info["board"] == "sim"
    assert info["protocol"] == 1
    assert info["build"] == firmware_image.build
    assert info["build_ok"] is True
    assert info["rx_window"] == 512
    # The firmware's own view of its runtime agrees with the host's probe.
    rt = sim_unit.runtime
    assert info["runtime"] == {"bits": rt.bits, "float": rt.float, "ulab": rt.ulab,
                               "ticks_period": rt.ticks_period}
    assert info["dsp_backend"] in ("ulab", "fixed")
