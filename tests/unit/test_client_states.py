"""The client's connection states: the allowed transitions, and nothing else."""

from __future__ import annotations

import itertools

import pytest

from reloadd.client.results import SaveResult, WatchResult
from reloadd.client.states import TRANSITIONS, InvalidTransition, State, StateMachine


def machine_in(state: State) -> StateMachine:
    machine = StateMachine("/srv/app")
    machine.state = state
    return machine


def test_a_client_starts_connecting() -> None:
    assert StateMachine("/srv/app").state is State.CONNECTING


@pytest.mark.parametrize(("old", "new"), list(itertools.product(State, State)))
def test_only_listed_transitions_are_allowed(old: State, new: State) -> None:
    machine = machine_in(old)
    if new in TRANSITIONS[old]:
        assert machine.enter(new, "test") is old
        assert machine.state is new
    else:
        with pytest.raises(InvalidTransition, match=f"from {old.value} to {new.value}"):
            machine.enter(new)
        assert machine.state is old


def test_every_state_can_be_closed_and_closed_is_final() -> None:
    assert all(State.CLOSED in allowed for allowed in TRANSITIONS.values())
    assert TRANSITIONS[State.CLOSED] == {State.CLOSED}


def test_polling_is_left_only_through_reconnecting() -> None:
    assert TRANSITIONS[State.POLLING] == {State.RECONNECTING, State.CLOSED}
    assert State.REGISTERED in TRANSITIONS[State.RECONNECTING]


def test_results_are_the_clients_own_records() -> None:
    assert WatchResult(files=2, globs=1) == WatchResult(2, 1)
    assert not hasattr(WatchResult(files=2, globs=1), "re")
    assert SaveResult(notified=1, recorded=3).recorded == 3
