"""Hypothesis: random edge sequences through the decoder.

Why: the hand-written cases cover the shapes we thought of; contact bounce is noise. Three
properties, each against an expectation built another way than the decoder:

1. physical presses (each with random bounce bursts at both ends, glitches inside the hold and
   in the gaps) give exactly one Press each, of the kind their hold says, at the instant the
   rules say — never more than one per physical press;
2. on arbitrary alternating edges, the presses equal those of a reference written over the
   signal's runs (a level counts once it lasts debounce_s; a hold reaching long_press_s is long),
   and no Press comes from a level held less than debounce_s;
3. how often time is reported (``tick``) never changes the result.

Times are whole microseconds, so that the reference's comparisons are exact too.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.status.button import ButtonDecoder, ButtonTiming, Press

DEBOUNCE_US = 30_000
LONG_US = 2_000_000
TIMING = ButtonTiming(debounce_s=DEBOUNCE_US / 1e6, long_press_s=LONG_US / 1e6)
BOUNCE_US = st.integers(500, 9_000)  # one bounce interval: always shorter than the debounce
SETTINGS = settings(max_examples=300, deadline=None)


def run(edges_us: list[tuple[int, bool]], ticks_us: list[int], end_us: int) -> list[tuple[str, int]]:
    """The decoder fed the edges and ticks in time order (an edge before a tick at the same instant)."""
    d = ButtonDecoder(TIMING)
    events = sorted([(t, 0, p) for t, p in edges_us] + [(t, 1, None) for t in ticks_us], key=lambda e: (e[0], e[1]))
    out: list[Press] = []
    for t, is_tick, p in events:
        out += d.tick(t / 1e6) if is_tick else d.edge(t / 1e6, p)
    out += d.tick(end_us / 1e6)
    return [(p.kind, round(p.t_s * 1e6)) for p in out]


# -- 1. physical presses ------------------------------------------------------------------------------------
@st.composite
def physical_presses(draw):
    t = draw(st.integers(0, 1_000_000))
    edges: list[tuple[int, bool]] = []
    expected: list[tuple[str, int]] = []

    def burst(level: bool) -> int:
        """Bounces ending on ``level``; -> the time of the last edge (where the level settles)."""
        nonlocal t
        for _ in range(draw(st.integers(0, 4))):
            edges.append((t, level))
            t += draw(BOUNCE_US)
            edges.append((t, not level))
            t += draw(BOUNCE_US)
        edges.append((t, level))
        return t

    for _ in range(draw(st.integers(1, 5))):
        gap = draw(st.integers(100_000, 3_000_000))
        if draw(st.booleans()):  # a glitch in the middle of the gap
            g = t + gap // 2
            edges += [(g, True), (g + draw(BOUNCE_US), False)]
        t += gap
        settled = burst(True)
        shape = draw(st.sampled_from(("short", "long", "just_short")))
        long_ = shape == "long"
        hold = draw({"long": st.integers(LONG_US + 100_000, 12_000_000), "short": st.integers(60_000, LONG_US - 100_000),
                     # released less than one debounce before the threshold: the release is confirmed after it
                     "just_short": st.integers(LONG_US - DEBOUNCE_US + 1_000, LONG_US - 1)}[shape])
        if hold > 200_000 and draw(st.booleans()):  # a dropout inside the hold
            g = settled + draw(st.integers(50_000, hold - 50_000))
            edges += [(g, False), (g + draw(BOUNCE_US), True)]
        t = settled + hold
        if shape == "just_short":  # a clean release (a bounce past the threshold would rightly make it long)
            edges.append((t, False))
            released = t
        else:
            released = burst(False)
        expected.append(("long", settled + LONG_US) if long_ else ("short", released + DEBOUNCE_US))
    return sorted(edges), expected, t + 20_000_000


@SETTINGS
@given(physical_presses(), st.lists(st.integers(0, 60_000_000), max_size=200))
def test_each_physical_press_gives_exactly_one_press_of_the_right_kind(case, ticks):
    edges, expected, end = case
    assert run(edges, [], end) == expected
    assert run(edges, ticks, end) == expected


@SETTINGS
@given(physical_presses())
def test_a_20_ms_loop_gives_the_same_presses(case):
    """The ButtonLed loop's cadence: a tick every 20 ms, whatever the edges."""
    edges, expected, end = case
    assert run(edges, list(range(0, end, 20_000)), end) == expected


# -- 2. arbitrary edges against a reference over runs -------------------------------------------------------
def reference(edges_us: list[tuple[int, bool]], end_us: int) -> list[tuple[str, int]]:
    """Alternating edges starting pressed -> presses, reasoning over runs of constant level.

    A run of level X lasting >= debounce while the debounced level is not X changes it, at run
    start + debounce. While debounced-pressed since s, a pressed run reaching s + long (its end,
    or the end of time, at or after it) makes the long press, at s + long. A debounced release
    after no long press makes the short press, at the release run's start + debounce.
    """
    runs = [(lvl, t, edges_us[i + 1][0] if i + 1 < len(edges_us) else end_us) for i, (t, lvl) in enumerate(edges_us)]
    out: list[tuple[str, int]] = []
    held, since, done = False, 0, False
    for lvl, a, b in runs:
        if lvl != held and b - a >= DEBOUNCE_US:
            held = lvl
            if held:
                since, done = a, False
            elif not done:
                out.append(("short", a + DEBOUNCE_US))
        if held and lvl and not done and b - since >= LONG_US:
            done = True
            out.append(("long", since + LONG_US))
    return out


@st.composite
def alternating_edges(draw):
    gaps = draw(st.lists(st.one_of(st.integers(1, 40_000), st.integers(1, 3_000_000)), min_size=1, max_size=40))
    t, edges = 0, []
    for i, g in enumerate(gaps):
        t += g
        edges.append((t, i % 2 == 0))
    return edges, t + draw(st.integers(0, 5_000_000))


@SETTINGS
@given(alternating_edges(), st.lists(st.integers(0, 130_000_000), max_size=100), st.data())
def test_arbitrary_edges_match_the_reference_and_no_press_comes_from_a_short_level(case, ticks, data):
    edges, end = case
    # ticks anywhere, and ticks just after edges (where a decision is pending)
    ticks = ticks + [t + data.draw(st.integers(0, 40_000)) for t, _ in edges]
    got = run(edges, [t for t in ticks if t <= end], end)
    assert got == reference(edges, end)
    # never more presses than pressed runs lasting the debounce
    runs = [(lvl, t, edges[i + 1][0] if i + 1 < len(edges) else end) for i, (t, lvl) in enumerate(edges)]
    qualifying_starts = {a for lvl, a, b in runs if lvl and b - a >= DEBOUNCE_US}
    assert len(got) <= len(qualifying_starts)
    for kind, t in got:
        if kind == "long":  # a long press counts from the start of a pressed run that lasted the debounce
            assert t - LONG_US in qualifying_starts
