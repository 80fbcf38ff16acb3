"""The simulated unit boots the firmware and answers over the link."""

from stimbox.client import StimBox


def test_info_reports_identity(box: StimBox, firmware_image) -> None:
    info = box.info()
    assert info["board"] == "sim"
    assert info["protocol"] == 1
    assert info["build"] == firmware_image.build
    assert info["build_ok"] is True
    assert info["rx_window"] == 512
