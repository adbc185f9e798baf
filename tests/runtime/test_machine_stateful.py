"""The session state machine under random event sequences (Hypothesis stateful).

Why: every transport (socket, button, MQTT, signals) and the supervisor feed one machine in any
order the world produces. Whatever arrives, the box must never hold two open sessions, every
session that closes must close with a reason researchers can read (END_REASONS), a refusal must
change nothing, a shutdown from any state must end with no open session, and the committed frame
count the desk sees must never go backwards. The runtime's answers (SessionOpened, SessionClosed)
are modelled by a tiny store that carries out the actions as the runtime would.
"""
from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from appliance.runtime import machine as m
from appliance.store.schema import END_REASONS

bad_conditions = st.sampled_from([
    m.CameraLost("unplugged"), m.CameraAbsent("no device"), m.CameraFailed("5 crashes"), m.DiskFull("12 MB free"),
    m.StoreError("disk I/O error"), m.EngineFailed("engine hung"), m.DurationReached(),
])
good_conditions = st.sampled_from([m.CameraRestored(), m.StoreRestored(), m.EngineReady()])


class BoxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = m.BoxState()
        self.open_rows: list[str] = []      # session rows the "store" holds open
        self.closed: list[tuple[str, str]] = []
        self.pending_open: list[m.OpenSession] = []
        self.pending_close: list[m.CloseSession] = []
        self.n = 0
        self.exited = False
        self.max_frames_seen = 0

    # the runtime's side: carry out the actions like runtime/box.py
    def feed(self, event) -> list:
        before = self.state
        self.state, actions = m.transition(self.state, event)
        for a in actions:
            if isinstance(a, m.Reply) and not a.ok and isinstance(event, (m.Start, m.Stop)):
                # a refused request changes nothing
                assert self.state == before, (event, before, self.state)
            elif isinstance(a, m.OpenSession):
                self.pending_open.append(a)
            elif isinstance(a, m.CloseSession):
                assert a.reason in END_REASONS
                assert a.uid in self.open_rows
                self.pending_close.append(a)
            elif isinstance(a, m.Exit):
                self.exited = True
        return actions

    @rule(origin=st.sampled_from(m.ORIGINS), bed=st.one_of(st.none(), st.text(max_size=5)))
    def start(self, origin, bed):
        self.feed(m.Start(origin, bed, token=1))

    @rule(origin=st.sampled_from(m.ORIGINS))
    def stop(self, origin):
        self.feed(m.Stop(origin, token=2))

    @initialize(ready=st.booleans())
    def boot(self, ready):
        """Half the runs start from a box that is ready (camera delivering, engine warmed up)."""
        if ready:
            self.feed(m.CameraRestored())
            self.feed(m.EngineReady())

    @rule(event=bad_conditions)
    def condition_worsens(self, event):
        self.feed(event)

    @rule(event=good_conditions)
    def condition_recovers(self, event):
        self.feed(event)

    @rule(reason=st.sampled_from(["shutdown", "stopped"]))
    def shutdown_and_restart(self, reason):
        """Shutdown from whatever state this run reached; once the box has exited, a new one starts."""
        self.shutdown_completely(reason)
        self.state = m.BoxState()
        self.exited = False
        self.boot(True)

    @rule(frames=st.integers(min_value=0, max_value=10_000))
    def committed(self, frames):
        self.feed(m.Committed(frames))

    @precondition(lambda self: self.pending_open)
    @rule(ok=st.booleans())
    def runtime_opens(self, ok):
        a = self.pending_open.pop(0)
        if ok:
            self.n += 1
            uid = f"s{self.n}"
            self.open_rows.append(uid)
            self.feed(m.SessionOpened(uid, a.bed_label))
        else:
            self.feed(m.SessionOpenFailed("store: database is locked", a.token))

    @precondition(lambda self: self.pending_close)
    @rule()
    def runtime_closes(self):
        a = self.pending_close.pop(0)
        self.open_rows.remove(a.uid)
        self.closed.append((a.uid, a.reason))
        self.feed(m.SessionClosed(a.uid, a.reason))

    @invariant()
    def never_two_open_sessions(self):
        assert len(self.open_rows) <= 1
        assert len(self.pending_open) + len(self.open_rows) <= 1 or self.pending_close

    @invariant()
    def state_names_its_session(self):
        s = self.state
        if s.state in ("recording", "stopping"):
            assert s.session_uid in self.open_rows
        if s.state == "idle":
            assert s.session_uid is None and not self.open_rows and not self.pending_open
        assert s.state in m.SESSION_STATES and s.camera in m.CAMERA_STATES
        assert s.store in m.STORE_STATES and s.engine in m.ENGINE_STATES and s.health in m.HEALTH_STATES

    @invariant()
    def frames_never_decrease_within_a_session(self):
        if self.state.state in ("recording", "stopping"):
            assert self.state.frames >= self.max_frames_seen
            self.max_frames_seen = max(self.max_frames_seen, self.state.frames)
        else:
            self.max_frames_seen = 0

    def shutdown_completely(self, reason="shutdown"):
        self.feed(m.Shutdown("signal", reason))
        for _ in range(4):
            while self.pending_open:
                self.runtime_opens(True)
            while self.pending_close:
                self.runtime_closes()
        assert not self.open_rows, "a shutdown left a session open"
        assert self.state.state == "idle" and self.exited
        if self.closed and reason == "shutdown" and self.closed[-1][1] not in ("shutdown", "duration", "stopped"):
            assert self.closed[-1][1] in END_REASONS

    def teardown(self):
        self.shutdown_completely()


BoxMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestBoxMachine = BoxMachine.TestCase
