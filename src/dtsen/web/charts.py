"""Charts as Vega-Lite specs, rendered on the server to SVG with vl-convert, so that no chart
JavaScript reaches the browser. A chart is an <img> whose source is the SVG as a data: URI (the
page's content security policy allows images from data:, and nothing inside an image can run or
fetch); every chart has a text alternative and sits beside a table of the same figures.

Rendering takes tens of milliseconds, so charts are kept by their spec (a release never changes,
so the same spec always draws the same picture).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import vl_convert

FONT = {"font": "sans-serif"}
_CACHE_SIZE = 512


@dataclass(frozen=True)
class Chart:
    src: str  # data:image/svg+xml;base64,...
    alt: str
    spec: str  # the Vega-Lite spec, JSON


class ChartCache:
    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self._svg: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def render(self, spec: dict[str, Any], alt: str) -> Chart:
        text = json.dumps(spec, sort_keys=True, ensure_ascii=False)
        key = hashlib.sha256(text.encode()).hexdigest()
        with self._lock:
            src = self._svg.get(key)
            if src is not None:
                self._svg.move_to_end(key)
        if src is None:
            svg = vl_convert.vegalite_to_svg(spec)
            src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
            with self._lock:
                self._svg[key] = src
                while len(self._svg) > self.size:
                    self._svg.popitem(last=False)
        return Chart(src=src, alt=alt, spec=text)


def decile_spec(rows: Sequence[dict[str, Any]], title: str, x_title: str, y_title: str) -> dict[str, Any]:
    """Bars of families per decile; `rows`: {"desil": 1..10, "keluarga": int} (shown values only)."""
    return {
        "data": {"values": list(rows)},
        "mark": {"type": "bar", "color": "#1f5f8b"},
        "width": 360, "height": 180, "title": title,
        "encoding": {
            "x": {"field": "desil", "type": "ordinal", "title": x_title, "scale": {"domain": list(range(1, 11))},
                  "axis": {"labelAngle": 0}},
            "y": {"field": "keluarga", "type": "quantitative", "title": y_title},
        },
        "config": FONT,
    }  # fmt: skip


def trend_spec(rows: Sequence[dict[str, Any]], releases: Sequence[str], title: str, y_title: str) -> dict[str, Any]:
    """Lines over releases; `rows`: {"rilis": id, "seri": label, "jiwa": int} (shown values only)."""
    return {
        "data": {"values": list(rows)},
        "mark": {"type": "line", "point": True},
        "width": 360, "height": 180, "title": title,
        "encoding": {
            "x": {"field": "rilis", "type": "ordinal", "sort": list(releases), "title": None, "axis": {"labelAngle": 0}},
            "y": {"field": "jiwa", "type": "quantitative", "title": y_title, "scale": {"zero": True}},
            "color": {"field": "seri", "type": "nominal", "title": None, "legend": {"orient": "bottom"}},
        },
        "config": FONT,
    }  # fmt: skip


def decile_history_spec(rows: Sequence[dict[str, Any]], releases: Sequence[str], title: str) -> dict[str, Any]:
    """A family's decile over releases; `rows`: {"rilis": id, "desil": 1..10}."""
    return {
        "data": {"values": list(rows)},
        "mark": {"type": "line", "point": True, "color": "#1f5f8b"},
        "width": 320, "height": 150, "title": title,
        "encoding": {
            "x": {"field": "rilis", "type": "ordinal", "sort": list(releases), "title": None, "axis": {"labelAngle": 0}},
            "y": {"field": "desil", "type": "quantitative", "title": "Desil", "scale": {"domain": [1, 10]}},
        },
        "config": FONT,
    }  # fmt: skip


def contribution_spec(rows: Sequence[dict[str, Any]], title: str, x_title: str) -> dict[str, Any]:
    """Each predictor's pull on predicted consumption against the average family;
    `rows`: {"prediktor": label, "selisih": float}."""
    return {
        "data": {"values": list(rows)},
        "mark": "bar",
        "width": 360, "title": title,
        "encoding": {
            "y": {"field": "prediktor", "type": "nominal", "sort": None, "title": None},
            "x": {"field": "selisih", "type": "quantitative", "title": x_title},
            "color": {"condition": {"test": "datum.selisih < 0", "value": "#b03a2e"}, "value": "#1e7b4f"},
        },
        "config": FONT,
    }  # fmt: skip
