"""The printable pack's words and charts: both languages know every word; the
charts are well-formed SVG whatever the labels hold, escape them, and colour
the answer rate against the 85 % floor."""

from __future__ import annotations

from xml.etree import ElementTree

from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.documents import charts
from hotline_pbx.documents.labels import EN, LANGUAGES, ZH, word, words
from hotline_pbx.domain.staffing import WEEKDAYS

SVG = "{http://www.w3.org/2000/svg}"
_label = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
_rate = st.none() | st.floats(0, 1)


def test_both_languages_have_every_word() -> None:
    assert set(ZH) == set(EN)
    assert all(ZH[key] and EN[key] for key in ZH)
    assert [words(lang) for lang in LANGUAGES] == [ZH, EN]
    assert word(EN, "mark_statutory_holiday") == "statutory holiday"
    assert word(EN, "role_night_watch") == "night_watch"  # unknown: shown, never blank


@given(st.lists(st.tuples(_label, _rate, st.booleans()), max_size=31), _label, _label)
def test_the_daily_chart_is_well_formed_with_any_label(days: list[tuple[str, float | None,
                                                                        bool]],
                                                       title: str, floor: str) -> None:
    svg = charts.daily_rates([charts.DayBar(*d) for d in days], title, floor)
    root = ElementTree.fromstring(svg)
    assert root.find(f"{SVG}title").text == (title or None)
    bars = root.findall(f".//{SVG}rect[@class='bar']")
    assert len(bars) == sum(1 for _, rate, _ in days if rate is not None)
    for bar, (_, rate, _) in zip(bars, [d for d in days if d[1] is not None], strict=True):
        assert bar.get("fill") == charts.rate_colour(rate)


def test_the_floor_decides_the_colour() -> None:
    assert charts.rate_colour(0.85) == charts.MEETS
    assert charts.rate_colour(0.849) == charts.NEAR
    assert charts.rate_colour(0.79) == charts.BELOW
    assert charts.rate_colour(None) == charts.EMPTY


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 23), _rate, st.integers(0, 500)),
                max_size=40, unique_by=lambda c: (c[0], c[1])),
       st.lists(_label, min_size=7, max_size=7), _label)
def test_the_heat_map_draws_every_weekday_and_hour_between(
        cells: list[tuple[int, int, float | None, int]], names: list[str], title: str) -> None:
    items = [{"weekday": w, "hour": h, "answer_rate": r, "offered": n}
             for w, h, r, n in cells]
    root = ElementTree.fromstring(charts.heat_map(items, names, title, "h", "-"))
    drawn = root.findall(f".//{SVG}g[@class='cell']")
    hours = {h for _, h, _, _ in cells}
    span = (max(hours) - min(hours) + 1) if hours else 10
    assert len(drawn) == 7 * span
    coloured = [g for g in drawn if g.find(f"{SVG}rect").get("fill") != charts.EMPTY]
    assert len(coloured) == sum(1 for *_, r, _ in cells if r is not None)


def test_the_staffing_chart_has_one_line_per_weekday_with_advice() -> None:
    rows = [{"weekday": "mon", "start": "09:00", "agents_needed": 3},
            {"weekday": "mon", "start": "09:30", "agents_needed": 5},
            {"weekday": "sun", "start": "17:30", "agents_needed": 1},
            {"weekday": "tue", "start": "10:00", "agents_needed": None}]
    root = ElementTree.fromstring(charts.staffing_lines(
        rows, WEEKDAYS, ["<b>一</b>", "二", "三", "四", "五", "六", "日"], "t", "n"))
    lines = root.findall(f".//{SVG}polyline")
    assert [line.get("data-weekday") for line in lines] == ["mon", "sun"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "<b>一</b>" in texts  # the label is text, not markup
