"""The case report of a session folder a short simulated case wrote
(case_folder.py): one self-contained HTML file, opened in headless Chromium
as a reader would open it (tests/browser.py): nothing fails to load or is
fetched, every figure drawn, the alarms the unit raised at the top and in
their table; and the export and report command modules."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from browser import unavailable, visit
from case_folder import Case
from PIL import Image
from stimbox.casereport import render
from stimbox.casereport.report import report_runs
from stimbox.cli import app, exitcodes
from stimbox.cli.commands import export as export_command
from stimbox.cli.commands import report as report_command
from stimbox.export import ExportError, tables
from stimbox.export.csv import FILES, write_csv
from stimbox.export.edf import write_edf
from stimbox.store import Session, SessionFolder, load_session

ROOT = Path(__file__).resolve().parents[1]
MAX_HTML_BYTES = 3_000_000
# Set to remake docs/images/case_report.png from this test's screenshot.
DOC_IMAGES = "STIMBOX_DOC_IMAGES"
SCREENSHOT_HEIGHT = 2200  # the top of the page: alarms, facts, timeline, trends


@pytest.fixture(scope="module")
def cli() -> Iterator[Callable[[list[str]], int]]:
    """stimbox's main() with the export and report commands in its list
    (the list in stimbox.cli.app names the commands the package has)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app, "COMMANDS", [*app.COMMANDS, export_command, report_command])
        yield app.main


@pytest.fixture(scope="module")
def session(case: Case) -> Session:
    return load_session(case.path)


@pytest.fixture(scope="module")
def html(case: Case, cli: Callable[[list[str]], int], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report as `stimbox report DIR` writes it, into a copy of the folder."""
    folder = tmp_path_factory.mktemp("report") / "session"
    shutil.copytree(case.path, folder)
    assert cli(["report", str(folder), "-q"]) == 0
    return folder / "report.html"


def test_report_is_one_small_self_contained_file(html: Path) -> None:
    text = html.read_text(encoding="utf-8")
    assert len(text.encode()) < MAX_HTML_BYTES
    assert "<script" not in text and "@import" not in text and "url(" not in text
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", text)
    srcs = re.findall(r'<img src="([^"]+)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def test_report_in_chromium(html: Path, session: Session, case: Case, tmp_path: Path) -> None:
    why = unavailable()
    if why:
        pytest.skip(why)
    shot = tmp_path / "case_report.png"
    v = visit(html, shot, clip_height=SCREENSHOT_HEIGHT, queries={
        "alarm_items": "document.querySelectorAll('.alarms li').length",
        "tables": "document.querySelectorAll('table.data').length",
        "scripts": "document.scripts.length",
        "width": "document.documentElement.scrollWidth",
    })
    assert v.console_errors == [] and v.page_errors == []
    assert v.requests == [html.resolve().as_uri()]  # the page itself, nothing more
    assert v.results["scripts"] == 0
    assert v.results["width"] <= 1200  # the viewport: nothing wider than the page
    rows = tables.measurements(session)
    traced = report_runs(session, rows, tables.alarms(session))
    # The timeline, trends, TcMEP muscles and trials, tEMG, free-run EMG,
    # then the traces of each protocol's last baseline run, the alarm run
    # and each protocol's last run (the tEMG search's only one).
    assert traced == [2, 4, 5, 7, 8]
    assert [i["alt"] for i in v.images] == ["Case timeline", "Trends", "TcMEP per muscle", "TcMEP trials",
                                            "Triggered EMG", "Free-run EMG",
                                            *[f"Run {r}" for r in traced]]
    assert all(i["complete"] and i["naturalWidth"] > 0 and i["scheme"] == "data" for i in v.images)
    assert v.results["alarm_items"] == len(case.alarms)
    assert v.results["tables"] == 4  # baselines, measurements, alarms, events
    for a in case.alarms:
        assert f"{a['alarm']} tcmep {a['name']}" in v.text
    assert (session.info["unit"]["build"])[:16] in v.text
    # The figures at the top are drawn: their region of the page is not one flat colour.
    page = np.asarray(Image.open(shot).convert("L"), dtype=float)
    shown = [i for i in v.images if i["y"] + i["height"] <= SCREENSHOT_HEIGHT]
    assert [i["alt"] for i in shown][:2] == ["Case timeline", "Trends"]
    for i in shown:
        x, y, w, h = (round(i[k]) for k in ("x", "y", "width", "height"))
        region = page[y:y + h, x:x + w]
        assert region.std() > 10 and (region < 128).mean() > 0.005, i["alt"]
    if os.environ.get(DOC_IMAGES):
        # The picture docs/EXPORT.md and the README show, remade on request.
        shutil.copyfile(shot, ROOT / "docs" / "images" / "case_report.png")


def test_export_command(case: Case, cli: Callable[[list[str]], int], tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    # Plots (--plots) are write_plots, tested with the figures.
    edf, csvdir = tmp_path / "e" / "case.edf", tmp_path / "csv"
    assert cli(["export", str(case.path), "--edf", str(edf), "--csv", str(csvdir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"edf": [str(edf)], "csv": [str(csvdir / f) for f in FILES]}
    assert all(Path(p).stat().st_size > 0 for p in out["edf"] + out["csv"])
    assert cli(["export", str(case.path), "--csv", str(tmp_path / "m.csv")]) == 0
    assert capsys.readouterr().out == f"csv: {tmp_path / 'm.csv'}\n"


@pytest.mark.parametrize("argv", [["export"], ["report"], ["export", "--csv", "x"]])
def test_not_a_session_folder_is_one_line(cli: Callable[[list[str]], int], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code = cli([argv[0], str(tmp_path), *argv[1:]])
    err = capsys.readouterr().err
    assert code == exitcodes.HOST_ERROR
    assert err == f"stimbox: {tmp_path} is not a session folder (no session.json)\n"


def test_export_without_options_writes_everything_under_the_folder(
        case: Case, cli: Callable[[list[str]], int], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "session"
    shutil.copytree(case.path, folder)
    assert cli(["export", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["edf"] == [str(folder / "export" / "case.edf")]
    assert out["csv"] == [str(folder / "export" / "csv" / f) for f in FILES]
    assert [Path(p).parent for p in out["plots"]] == [folder / "export" / "plots"] * len(out["plots"])
    assert all(Path(p).stat().st_size > 0 for ps in out.values() for p in ps)
    assert load_session(folder).results == load_session(case.path).results  # the folder itself untouched


def test_a_session_without_runs(tmp_path: Path) -> None:
    # A folder made before anything ran: the report says so, the tables have
    # their headers alone, and EDF+ (which needs a signal) refuses in one line.
    SessionFolder.create(tmp_path / "s", {"board": "sim", "serial": "S1"}, "/dev/null").close()
    s = load_session(tmp_path / "s")
    html = render(s)
    assert "No alarm was raised" in html and "<img" not in html
    paths = write_csv(s, tmp_path / "csv")
    assert all(len(p.read_text().splitlines()) == 1 for p in paths)
    with pytest.raises(ExportError, match="no averaged traces to export"):
        write_edf(s, tmp_path / "x.edf")
