"""The case report of a session folder a short simulated case wrote
(case_folder.py): one self-contained HTML file, opened in headless Chromium
as a reader would open it (tests/browser.py): nothing fails to load or is
fetched, every figure drawn, the alarms the unit raised at the top and in
their table; and the export and report command modules."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from browser import unavailable, visit
from case_folder import Case
from PIL import Image
from stimbox.casereport import render
from stimbox.casereport.report import report_runs
from stimbox.export import ExportError, tables
from stimbox.export.csv import FILES, write_csv
from stimbox.export.edf import write_edf
from stimbox.store import Session, SessionFolder, StoreError, load_session

ROOT = Path(__file__).resolve().parents[1]
MAX_HTML_BYTES = 3_000_000
# Set to remake docs/images/case_report.png from this test's screenshot.
DOC_IMAGES = "STIMBOX_DOC_IMAGES"
SCREENSHOT_HEIGHT = 2200  # the top of the page: alarms, facts, timeline, trends


def command(name: str) -> ModuleType:
    """A command module (stimbox.cli.commands.<name>), loaded from its file:
    it needs nothing of the command-line package around it."""
    path = ROOT / "host_tools" / "stimbox" / "cli" / "commands" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"stimbox_command_{name}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def parse(mod: ModuleType, argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="stimbox")
    p.add_argument("--json", action="store_true")
    mod.add(p.add_subparsers())
    return p.parse_args(argv)


@pytest.fixture(scope="module")
def session(case: Case) -> Session:
    return load_session(case.path)


@pytest.fixture(scope="module")
def html(case: Case, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report as `stimbox report DIR -o FILE` writes it."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    args = parse(command("report"), ["report", str(case.path), "-o", str(path)])
    assert args.func(args) == 0
    return path


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
    })
    assert v.console_errors == [] and v.page_errors == []
    assert v.requests == [html.resolve().as_uri()]  # the page itself, nothing more
    assert v.results["scripts"] == 0
    rows = tables.measurements(session)
    traced = report_runs(session, rows, tables.alarms(session))
    # The timeline, trends, TcMEP muscles and trials, free-run EMG, then the traces of
    # each protocol's last baseline run, the alarm run and each last run.
    assert traced == [2, 4, 6, 7]
    assert [i["alt"] for i in v.images] == ["Case timeline", "Trends", "TcMEP per muscle", "TcMEP trials",
                                            "Free-run EMG",
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


def test_export_command(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Plots (--plots) are write_plots, tested with the figures.
    exp = command("export")
    args = parse(exp, ["--json", "export", str(case.path), "--edf", str(tmp_path / "e" / "case.edf"),
                       "--csv", str(tmp_path / "csv")])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"edf": [str(tmp_path / "e" / "case.edf")],
                   "csv": [str(tmp_path / "csv" / f) for f in FILES]}
    assert all(Path(p).stat().st_size > 0 for p in out["edf"] + out["csv"])
    args = parse(exp, ["export", str(case.path), "--csv", str(tmp_path / "m.csv")])
    assert args.func(args) == 0
    assert capsys.readouterr().out == f"csv: {tmp_path / 'm.csv'}\n"
    # Not a session folder: one clear error the command line reports, no traceback.
    for mod, argv in ((exp, ["export", str(tmp_path), "--csv", str(tmp_path / "x")]),
                      (command("report"), ["report", str(tmp_path)])):
        args = parse(mod, argv)
        with pytest.raises(StoreError, match="is not a session folder"):
            args.func(args)


def test_default_places(case: Case) -> None:
    exp, rep = command("export"), command("report")
    args = parse(exp, ["export", str(case.path)])
    assert (args.edf, args.csv, args.plots) == (None, None, None)  # then all three under DIR/export/
    assert exp.DEFAULT_DIR == "export"
    args = parse(rep, ["report", str(case.path)])
    assert args.out is None  # then DIR/report.html


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
