"""The pack's charts as SVG, drawn on the server from the pack's numbers.

Hand-written SVG rather than a plotting library: three small charts do not
justify matplotlib's weight, the output is the same in the browser, in the
HTML file and in the PDF (WeasyPrint draws SVG), and it is deterministic, so
tests can read it back. Every text that reaches the markup goes through
:func:`_text` (XML-escaped): department and purpose names are admins' input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from hotline_pbx.domain.contract import ANSWER_RATE_FLOOR

# Colours with enough contrast on white, and told apart by more than hue: the
# below-floor bars also carry a darker outline.
MEETS = "#2e7d32"
BELOW = "#c62828"
NEAR = "#f9a825"
EMPTY = "#e0e0e0"
GRID = "#9e9e9e"
INK = "#212121"
NON_WORKING = "#f5f5f5"
SERIES = ("#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#4e342e", "#ad1457", "#558b2f")
FONT = "font-family=\"WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif\""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" {FONT} font-size="11">'
            f"<title>{_text(title)}</title>{''.join(body)}</svg>")


def rate_colour(rate: float | None) -> str:
    """Green at or above the floor, amber within 5 points under it, red below."""
    if rate is None:
        return EMPTY
    if rate >= ANSWER_RATE_FLOOR:
        return MEETS
    return NEAR if rate >= ANSWER_RATE_FLOOR - 0.05 else BELOW


@dataclass(frozen=True, slots=True)
class DayBar:
    label: str  # the day of the month
    rate: float | None  # open-hours answer rate; None: no countable call
    working: bool


def daily_rates(bars: Sequence[DayBar], title: str, floor_label: str) -> str:
    """One bar per day (0-100 %), the 85 % floor as a dashed line, non-working days
    on a grey ground."""
    left, top, plot_h, step = 36, 12, 160, 20
    width = left + step * max(len(bars), 1) + 60
    height = top + plot_h + 30
    body = []
    for i, bar in enumerate(bars):
        x = left + i * step
        if not bar.working:
            body.append(f'<rect x="{x}" y="{top}" width="{step}" height="{plot_h}" '
                        f'fill="{NON_WORKING}"/>')
        if bar.rate is not None:
            h = round(plot_h * bar.rate, 1)
            colour = rate_colour(bar.rate)
            body.append(f'<rect class="bar" data-day="{_text(bar.label)}" x="{x + 3}" '
                        f'y="{top + plot_h - h}" width="{step - 6}" height="{h}" '
                        f'fill="{colour}"><title>{_text(bar.label)}: '
                        f"{bar.rate * 100:.1f} %</title></rect>")
        body.append(f'<text x="{x + step / 2}" y="{top + plot_h + 14}" text-anchor="middle" '
                    f'fill="{INK}">{_text(bar.label)}</text>')
    for pct in (0, 50, 100):
        y = top + plot_h - plot_h * pct / 100
        body.append(f'<line x1="{left}" x2="{width - 60}" y1="{y}" y2="{y}" stroke="{GRID}" '
                    f'stroke-width="0.5"/><text x="{left - 4}" y="{y + 4}" text-anchor="end" '
                    f'fill="{INK}">{pct}%</text>')
    floor_y = top + plot_h * (1 - ANSWER_RATE_FLOOR)
    body.append(f'<line class="floor" x1="{left}" x2="{width - 60}" y1="{floor_y}" '
                f'y2="{floor_y}" stroke="{BELOW}" stroke-width="1.5" stroke-dasharray="5 3"/>'
                f'<text x="{width - 56}" y="{floor_y + 4}" fill="{BELOW}">'
                f"{_text(floor_label)}</text>")
    return _svg(width, height, title, body)


def heat_map(cells: Sequence[dict[str, object]], weekday_names: Sequence[str],
             title: str, hour_label: str, empty_label: str) -> str:
    """Weekday rows x hour-of-day columns, coloured by the open-hours answer rate;
    the hours from the first to the last that had a call (08-17 with none)."""
    seen = {int(str(c["hour"])) for c in cells}
    hours = list(range(min(seen), max(seen) + 1)) if seen else list(range(8, 18))
    by_key = {(int(str(c["weekday"])), int(str(c["hour"]))): c for c in cells}
    left, top, cell_w, cell_h = 44, 22, 34, 22
    width = left + cell_w * len(hours) + 8
    height = top + cell_h * 7 + 26
    body = [f'<text x="{left - 6}" y="{top - 4}" text-anchor="end" fill="{INK}">'
            f"{_text(hour_label)}</text>"]
    for col, hour in enumerate(hours):
        body.append(f'<text x="{left + col * cell_w + cell_w / 2}" y="{top - 4}" '
                    f'text-anchor="middle" fill="{INK}">{hour:02d}</text>')
    for weekday in range(7):
        y = top + weekday * cell_h
        body.append(f'<text x="{left - 6}" y="{y + cell_h / 2 + 4}" text-anchor="end" '
                    f'fill="{INK}">{_text(weekday_names[weekday])}</text>')
        for col, hour in enumerate(hours):
            body.append(_heat_cell(by_key.get((weekday, hour)), left + col * cell_w, y,
                                   cell_w, cell_h, empty_label))
    return _svg(width, height, title, body)


def _heat_cell(cell: dict[str, object] | None, x: float, y: float, w: float, h: float,
               empty_label: str) -> str:
    rate = None if cell is None else cell.get("answer_rate")
    rate = rate if isinstance(rate, float | int) else None
    colour = rate_colour(rate)
    offered = 0 if cell is None else cell.get("offered", 0)
    tip = empty_label if cell is None else (
        f"{offered}: " + ("-" if rate is None else f"{rate * 100:.0f} %"))
    label = "" if rate is None else f"{rate * 100:.0f}"
    ink = INK if colour in (EMPTY, NEAR) else "#ffffff"
    return (f'<g class="cell"><rect x="{x + 1}" y="{y + 1}" width="{w - 2}" height="{h - 2}" '
            f'fill="{colour}"><title>{_text(tip)}</title></rect>'
            f'<text x="{x + w / 2}" y="{y + h / 2 + 4}" text-anchor="middle" fill="{ink}" '
            f'font-size="10">{label}</text></g>')


def _slot_index(start: str) -> int:
    hours, minutes = start.split(":")
    return int(hours) * 2 + int(minutes) // 30


def staffing_lines(rows: Sequence[dict[str, object]], weekday_keys: Sequence[str],
                   weekday_names: Sequence[str], title: str, y_label: str) -> str:
    """Agents needed per half hour, one step line per weekday that has advice, over
    the half hours from the first to the last that had a call."""
    seen = {_slot_index(str(r["start"])) for r in rows}
    first, last = (min(seen), max(seen)) if seen else (16, 35)
    slots = [f"{i // 2:02d}:{30 * (i % 2):02d}" for i in range(first, last + 1)]
    peak = max([int(str(r["agents_needed"])) for r in rows if r.get("agents_needed")
                is not None] or [1])
    left, top, plot_h, step = 36, 16, 150, 16
    width = left + step * len(slots) + 90
    height = top + plot_h + 34
    body = [f'<text x="4" y="10" fill="{INK}">{_text(y_label)}</text>']
    for value in sorted({0, peak, max(peak // 2, 1)}):
        y = top + plot_h - plot_h * value / peak
        body.append(f'<line x1="{left}" x2="{left + step * len(slots)}" y1="{y}" y2="{y}" '
                    f'stroke="{GRID}" stroke-width="0.5"/><text x="{left - 4}" y="{y + 4}" '
                    f'text-anchor="end" fill="{INK}">{value}</text>')
    for i, slot in enumerate(slots):
        if slot.endswith(":00"):
            body.append(f'<text x="{left + i * step}" y="{top + plot_h + 14}" '
                        f'fill="{INK}" font-size="9">{_text(slot[:2])}</text>')
    drawn = 0
    for n, key in enumerate(weekday_keys):
        points = [(slots.index(str(r["start"])), int(str(r["agents_needed"])))
                  for r in rows if r["weekday"] == key and r.get("agents_needed") is not None]
        if not points:
            continue
        colour = SERIES[n % len(SERIES)]
        path = " ".join(f"{left + i * step},{top + plot_h - plot_h * v / peak:.1f} "
                        f"{left + (i + 1) * step},{top + plot_h - plot_h * v / peak:.1f}"
                        for i, v in sorted(points))
        body.append(f'<polyline class="series" data-weekday="{_text(key)}" points="{path}" '
                    f'fill="none" stroke="{colour}" stroke-width="2"/>')
        ly = top + 12 + 14 * drawn
        drawn += 1
        body.append(f'<line x1="{width - 84}" x2="{width - 70}" y1="{ly - 4}" y2="{ly - 4}" '
                    f'stroke="{colour}" stroke-width="2"/><text x="{width - 66}" y="{ly}" '
                    f'fill="{INK}">{_text(weekday_names[n])}</text>')
    return _svg(width, height, title, body)
