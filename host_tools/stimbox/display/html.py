"""What every self-contained HTML page the host writes shares (the
validation report and the case report): one stylesheet, escaped text and
numbers, fact tables and figures embedded as PNG data URIs, so a page
needs nothing but itself: no scripts, fonts or images from elsewhere."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from html import escape
from typing import Any

CSS = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #bbb; padding-bottom: 0.2em; margin-top: 1.6em; }
div.facts { display: flex; flex-wrap: wrap; gap: 0 3em; }
div.facts section { flex: 1 1 22em; }
div.facts table { width: 100%; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
table.facts th { width: 10em; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.why { color: #666; font-size: 0.9em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; }
@media print { body { margin: 0; max-width: none; } figure, tr { page-break-inside: avoid; } }
"""


def text(v: Any) -> str:
    return "—" if v is None or v == "" else escape(str(v))


def num(v: Any, unit: str = "", fmt: str = ".6g") -> str:
    """A figure as a table shows it (6 significant digits unless fmt says
    otherwise), with its unit."""
    if v is None:
        return "—"
    if isinstance(v, int | float) and not isinstance(v, bool):
        s = format(v, fmt)
    else:
        s = str(v)
    return escape(f"{s} {unit}" if unit else s)


def facts(rows: Iterable[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{text(v)}</td></tr>" for k, v in rows)
    return f'<table class="facts">{body}</table>'


def figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def page(title: str, css: str, body: str) -> str:
    """A whole page: the shared stylesheet, then css (the page's own)."""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{CSS}{css}</style></head><body>"
            f"{body}</body></html>\n")
