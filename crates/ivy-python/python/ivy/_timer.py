"""What the timers of both object APIs share (:class:`ivy.Timer`,
:class:`ivy.ivy.IvyTimer`): an id in the agent's loop and a period that can change."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (memory)
if TYPE_CHECKING:
    from typing import Optional

    from . import _ivy


class LoopTimer:
    """A timer of `agent`'s loop, `num_id` there (None until it runs), firing
    every `delay_ms`."""

    def __init__(self, agent: _ivy.Agent, num_id: Optional[int], delay_ms: int) -> None:
        self._agent = agent
        self.id = num_id
        self._delay = delay_ms

    @property
    def delay(self) -> int:
        """The period in ms; a new value applies from the next firing."""
        return self._delay

    @delay.setter
    def delay(self, delay_ms: int) -> None:
        if self.id is not None and not self._agent.modify_timer(self.id, delay_ms):
            self._gone()
        self._delay = delay_ms

    def _gone(self) -> None:
        """The loop no longer has the timer whose period changes: nothing to do
        by default (it simply keeps the new value)."""
