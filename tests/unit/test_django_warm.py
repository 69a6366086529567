"""Django's warm start, one function at a time: the switch, the restart loop, the kept socket's owner.

The whole of it (a real ``manage.py runserver`` with ``RELOADD_WARM=1``) is in
``tests/integration/test_django_warm.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings  # type: ignore[import-untyped]
from django.test import override_settings  # type: ignore[import-untyped]

from reloadd.client.django import kept_socket, warm, warm_report
from reloadd.client.warm import StartedChild

if not settings.configured:
    settings.configure()

TIMEOUT = 10.0


@pytest.mark.parametrize(
    ("value", "setting", "expected"),
    [
        (None, None, False),
        (None, True, True),
        ("1", None, True),
        ("on", False, True),
        ("0", True, False),
        ("off", True, False),
    ],
)
def test_the_variable_wins_over_the_setting(
    monkeypatch: pytest.MonkeyPatch, value: str | None, setting: bool | None, expected: bool
) -> None:
    if value is None:
        monkeypatch.delenv(warm.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(warm.ENV_VAR, value)
    overrides = {} if setting is None else {warm.SETTING: setting}
    with override_settings(**overrides):
        assert warm.wanted() is expected


def test_an_unknown_value_is_off_and_said(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(warm.ENV_VAR, "maybe")
    assert warm.wanted() is False
    assert "RELOADD_WARM='maybe' is neither on" in capsys.readouterr().err


def python(code: str, reports: warm_report.Reports | None = None) -> StartedChild:
    """A real child process running ``code``, as the engine's cold start gives it."""
    env = dict(os.environ, **(reports.environment() if reports else {}))
    fds = (reports.write_fd,) if reports else ()
    process = subprocess.Popen([sys.executable, "-c", code], env=env, pass_fds=fds)
    return StartedChild.cold(process)


@dataclass
class Starter:
    """A stand-in for ``WarmStarter``: its children run ``codes`` in turn; it records what it learns."""

    codes: list[str]
    reports: warm_report.Reports | None = None
    started: list[tuple[int, ...]] = field(default_factory=list)
    learned: list[str] = field(default_factory=list)
    ready: int = 0
    interrupt: BaseException | None = None
    interrupt_start: int = 0
    """The start (counted from 1) that raises ``interrupt`` instead; 0: none does."""
    children: list[StartedChild] = field(default_factory=list)

    def start(self, *, pass_fds: Sequence[int] = ()) -> StartedChild:
        self.started.append(tuple(pass_fds))
        if self.interrupt is not None and len(self.started) == self.interrupt_start:
            raise self.interrupt
        child = python(self.codes[len(self.started) - 1], self.reports)
        self.children.append(child)
        return child

    def learn(self, names: list[str]) -> None:
        self.learned += names
        if self.interrupt is not None and not self.interrupt_start:
            raise self.interrupt

    def child_ready(self) -> None:
        self.ready += 1


@pytest.fixture
def reports() -> Iterator[warm_report.Reports]:
    made = warm_report.Reports()
    yield made
    made.close()


@pytest.mark.parametrize("status", [0, 1, -int(signal.SIGKILL)])
def test_exit_code_3_starts_the_next_server_and_any_other_status_ends_runserver(
    status: int, reports: warm_report.Reports
) -> None:
    last = (
        f"import os, signal; os.kill(os.getpid(), {-status})"
        if status < 0
        else f"raise SystemExit({status})"
    )
    starter = Starter(["raise SystemExit(3)", "raise SystemExit(3)", last])
    assert warm._loop(starter, reports, (7,)) == status
    assert starter.started == [(7,), (7,), (7,)]


HANDS_OVER = """
import os, sys, time
fd = int(os.environ["RELOADD_WARM_REPORT"].partition(":")[0])
{late}
os.write(fd, f"!handed-over {{os.getpid()}}\\n".encode())
{then}
"""

LATE_LINE = """
if os.fork() == 0:  # the line of this process, read by the parent after its exit
    time.sleep(0.3)
    os.write(fd, f"!handed-over {os.getppid()}\\n".encode())
    os._exit(0)
raise SystemExit(3)
"""


def test_a_hand_over_line_read_late_is_not_taken_for_the_next_process(
    reports: warm_report.Reports,
) -> None:
    starter = Starter(
        [
            'import os, sys, time\nfd = int(os.environ["RELOADD_WARM_REPORT"].partition(":")[0])\n'
            + LATE_LINE,
            "import time; time.sleep(1.0); raise SystemExit(0)",
        ],
        reports,
    )
    assert warm._loop(starter, reports, ()) == 0  # a third start would be an IndexError
    assert len(starter.started) == 2


def test_a_hand_over_starts_the_next_process_before_the_old_one_exits(
    reports: warm_report.Reports, tmp_path: Path
) -> None:
    ended = tmp_path / "first-ended"  # made by the first process just before it exits
    starter = Starter(
        [
            HANDS_OVER.format(
                late="", then=f"time.sleep(0.5); open({str(ended)!r}, 'w'); raise SystemExit(3)"
            ),
            f"import os; raise SystemExit(6 if os.path.exists({str(ended)!r}) else 5)",
        ],
        reports,
    )
    assert warm._loop(starter, reports, ()) == 5  # 6: the second started after the first ended
    assert starter.children[0].returncode == 3  # still waited for, and its 3 went on


def test_an_interrupt_while_the_next_process_starts_ends_the_old_one(
    reports: warm_report.Reports,
) -> None:
    starter = Starter(
        [HANDS_OVER.format(late="", then="time.sleep(60)")],
        reports,
        interrupt=SystemExit(0),
        interrupt_start=2,
    )
    with pytest.raises(SystemExit):
        warm._loop(starter, reports, ())
    assert starter.children[0].wait(5.0) == -int(signal.SIGKILL)


REPORTING = """
import json, sys
from django.conf import settings
settings.configure()
from reloadd.client.django import warm_report
reporter = warm_report.reporter()
assert reporter is not None
reporter.report()
import json as again, colorsys  # one new module since
reporter.report()
reporter.report()  # nothing new: nothing written
raise SystemExit({status})
"""


def test_the_server_processes_report_what_they_imported(reports: warm_report.Reports) -> None:
    starter = Starter([REPORTING.format(status=3), REPORTING.format(status=0)], reports)
    assert warm._loop(starter, reports, ()) == 0
    assert {"django.conf", "reloadd.client.django.warm_report", "colorsys"} <= set(starter.learned)
    assert starter.learned.count("colorsys") == 2  # once per server process
    assert starter.ready >= 1


SLEEPING = """
import signal, sys, time
from django.conf import settings
settings.configure()
from reloadd.client.django import warm_report
if {ignore}:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
warm_report.reporter().report()  # the parent, learning this, is interrupted
time.sleep(60)
"""


@pytest.mark.parametrize(
    ("exc", "ignores_sigint", "status"),
    [
        (KeyboardInterrupt(), False, -int(signal.SIGINT)),  # Ctrl-C: passed on, it ends by itself
        (KeyboardInterrupt(), True, -int(signal.SIGKILL)),  # ... or is killed after a moment
        (SystemExit(0), False, -int(signal.SIGKILL)),  # SIGTERM to the parent: killed at once
    ],
)
def test_an_interrupted_parent_ends_its_server_process(
    reports: warm_report.Reports, exc: BaseException, ignores_sigint: bool, status: int
) -> None:
    starter = Starter([SLEEPING.format(ignore=ignores_sigint)], reports, interrupt=exc)
    child = starter.start()
    with pytest.raises(type(exc)):
        warm._wait(child, starter, reports)
    assert child.wait(TIMEOUT) == status


def test_the_kept_socket_is_passed_only_when_this_parent_bound_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(kept_socket.ENV_VAR, f"5:{os.getpid()}:8000:127.0.0.1")
    assert warm._kept_fds() == (5,)
    monkeypatch.setenv(kept_socket.ENV_VAR, f"5:{os.getpid() + 1}:8000:127.0.0.1")
    assert warm._kept_fds() == ()
    monkeypatch.delenv(kept_socket.ENV_VAR)
    assert warm._kept_fds() == ()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock


def test_a_server_process_forked_from_a_template_takes_its_grandparents_socket(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A warm server process's parent is the template; runserver's parent is one level up.
    # Here: this process plays the server, its parent the template, and its grandparent
    # the runserver parent that bound the socket.
    grandparent = kept_socket._parent_of(os.getppid())
    assert grandparent > 1
    port = listener.getsockname()[1]
    handover = f"{os.dup(listener.fileno())}:{grandparent}:{port}:127.0.0.1"
    monkeypatch.setenv(kept_socket.ENV_VAR, handover)
    taken = kept_socket._parse(handover)
    assert taken is not None
    with taken:
        assert taken.getsockname()[:2] == ("127.0.0.1", port)
    assert kept_socket.ENV_VAR not in os.environ  # its own children are not told of it


def test_a_project_root_that_cannot_be_found_starts_cold_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from reloadd.protocol import EndpointError, endpoint

    def unreadable(*args: object, **kwargs: object) -> None:
        raise EndpointError("cannot find the project root (permission denied)")

    monkeypatch.setenv(warm.ENV_VAR, "1")
    monkeypatch.setattr(endpoint, "find_project_root", unreadable)
    monkeypatch.setattr(warm, "_django_restart", lambda: 5)  # Django's own loop, cold
    assert warm.restart_with_reloader() == 5
    assert "cannot start warm (cannot find the project root" in capsys.readouterr().err
