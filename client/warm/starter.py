"""``WarmStarter``: starts each child of one command by forking a preloaded template, cold when it cannot.

The first child starts cold. The module names the children report (:meth:`WarmStarter.learn`)
are kept per command (:mod:`~reloadd.client.warm.learned`); once a child is ready
(:meth:`WarmStarter.child_ready`), or right after each start, a template is started in
the background: the same interpreter, options, environment and working folder, which
imports those of the modules that are third-party (:mod:`~reloadd.client.warm.preload`).
:meth:`WarmStarter.start` forks it when it is ready and fresh, and starts the next one.

It starts cold instead, and says why once per reason, when:

* the command is not a Python file, module or console script (:mod:`~reloadd.client.warm.plan`),
  or this system cannot adopt a forked child (:mod:`~reloadd.client.warm.subreaper`);
* there is no template yet (the first start), or it was not ready in time;
* the template is stale: a preloaded file's modification time or size changed (a
  ``pip install``, an edit in ``site-packages`` or in a ``PYTHONPATH`` folder), the
  interpreter changed, or the environment differs;
* the template is spoiled (a preloaded module started a thread, opened a descriptor,
  tried to import the project…), holds more than one thread, died, or did not answer.

A template costs at most one dev server's memory: one runs at a time, and it exits once
it has forked. :meth:`WarmStarter.close` stops it, by its pid.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from reloadd.client.run.sockets import shim_command
from reloadd.client.warm.handle import TemplateFailed, TemplateHandle
from reloadd.client.warm.learned import Learned, state_dir, state_file
from reloadd.client.warm.plan import NotWarm, Plan, plan_for
from reloadd.client.warm.started import StartedChild
from reloadd.client.warm.subreaper import become_subreaper

READY_WAIT_FIRST = 5.0
"""Seconds a start waits for a template that is still preloading, when no template of this
starter has been ready yet (after that, twice the last one's preload time, at least
``READY_WAIT_MIN``): a template half-way through is still quicker than a cold start."""

READY_WAIT_MIN = 0.5

READY_WAIT_ENV = "RELOADD_WARM_READY_WAIT"
"""Overrides ``READY_WAIT_FIRST`` (seconds), e.g. on a slow machine."""

HUNG_AFTER = 60.0
"""Seconds after which a template that is still importing is given up (an import hangs)."""

MAX_TEMPLATE_FAILURES = 3
"""Templates in a row that die or fail before forking, after which this starter stays cold."""


def _stderr(text: str) -> None:
    print(f"reloadd: {text}", file=sys.stderr, flush=True)


class WarmStarter:
    """Keeps a preloaded template for one command; starts each child by forking it (cold when it cannot)."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        root: Path,
        state_dir: Path | None = None,
        say: Callable[[str], None] = _stderr,
    ) -> None:
        self.command = tuple(command)
        self.env = dict(env)
        self.cwd = Path(cwd)
        self.root = Path(root)
        self._say = say
        self._said: set[str] = set()
        self.learned = Learned(
            state_file(state_dir or _default_state_dir(), self.command, self.cwd),
            self.command,
            self.cwd,
        )
        self.template: TemplateHandle | None = None
        self._template_plan: Plan | None = None
        self._interpreter_stat: tuple[int, int, int] | None = None
        self._failures = 0
        self._first = True
        self._last_preload: float | None = None
        self._gave_up: str | None = None
        self._not_python: str | None = None
        self._subreaper: str | None = None
        self.plan: Plan | None = None
        self._make_plan()

    def _make_plan(self) -> None:
        """The plan for the command in the current environment (a subreaper once there is one)."""
        plan = plan_for(self.command, env=self.env, cwd=self.cwd)
        if isinstance(plan, NotWarm):
            self.plan, self._not_python = None, plan.reason
            return
        if self.plan is None and self._subreaper is None:
            self._subreaper = become_subreaper() or ""
        self.plan, self._not_python = plan, None

    @property
    def disabled(self) -> str | None:
        """Why this starter only starts cold, if it does."""
        return self._not_python or self._subreaper or self._gave_up

    # -- the public interface -------------------------------------------------------------------

    def learn(self, names: Iterable[str]) -> None:
        """Module names a child imported (``reloadd run``'s hook reports them): the next
        templates preload those that are third-party."""
        self.learned.add(names)

    def child_ready(self) -> None:
        """The child serves: keep what was learned, and start a template if none runs."""
        self.learned.save()
        if self.template is None and self.disabled is None and self.learned.modules:
            self._prepare(self.env)

    def start(
        self,
        *,
        pass_fds: Sequence[int] = (),
        listen_fds: Sequence[int] = (),
        env: Mapping[str, str] | None = None,
    ) -> StartedChild:
        """Start the next child: forked from a ready, fresh template, else cold.

        ``pass_fds`` keep their numbers in the child (as with ``Popen``); ``listen_fds``
        become 3, 4, … with ``LISTEN_FDS`` and ``LISTEN_PID`` (socket activation).
        ``env`` replaces the environment given at construction from now on. Never raises
        for a template problem; ``OSError`` when the command cannot be started at all.
        """
        if env is not None and dict(env) != self.env:
            self.env = dict(env)
            self._make_plan()
        child: StartedChild | None = None
        first, self._first = self._first, False
        quiet = first and self.template is None  # the first start is cold: nothing to say
        why = self.disabled or self._why_not_ready()
        if quiet and self.disabled is None:
            why = ""
        if why is None:
            child, why = self._fork(listen_fds, pass_fds)
        if child is None:
            if why:
                self._say_once(f"starting cold: {why}")
            child = self._cold(listen_fds, pass_fds)
        self.learned.save()
        if self.template is None and self.disabled is None and self.learned.modules:
            self._prepare(self.env)
        return child

    def close(self) -> None:
        """Stop the template, if one runs (by its pid); keep what was learned."""
        self.learned.save()
        self._drop()

    # -- templates ------------------------------------------------------------------------------

    def _why_not_ready(self) -> str | None:
        template = self.template
        if template is None:
            return "no template is ready yet" if self.learned.modules else ""
        if template.env != self.env:
            changed = sorted(
                name
                for name in {*template.env, *self.env}
                if template.env.get(name) != self.env.get(name)
            )
            self._drop()
            return f"the environment changed ({', '.join(changed[:3])})"
        if self._interpreter_changed():
            self._drop()
            return "the interpreter changed"
        try:
            ready = template.wait_ready(0.0 if template.waited else self._ready_wait())
        except TemplateFailed as exc:
            if template.alive() and not exc.ended:
                template.waited = True  # a restart waits for one template once, not at each
                age = time.monotonic() - template.started
                if age < HUNG_AFTER:
                    return "the template is still importing"  # kept for the next restart
                exc = TemplateFailed(f"the template did not finish importing in {age:.0f} s")
            return self._failed(str(exc))
        self._failures = 0
        self._last_preload = ready.seconds
        self.learned.leave_out(ready.skipped)
        if ready.spoiled:
            self._drop()
            left_out = f"; {ready.spoiled_by} is left out from now on" if ready.spoiled_by else ""
            return f"the template cannot be used: {ready.spoiled}{left_out}"
        stale = _first_changed(ready.files)
        if stale is not None:
            self._drop()
            return f"{self._show(stale)} changed since the template imported it"
        return None

    def _fork(
        self, listen_fds: Sequence[int], pass_fds: Sequence[int]
    ) -> tuple[StartedChild | None, str]:
        template = self.template
        assert template is not None
        self.template = None  # a template forks once
        try:
            pid = template.fork(listen_fds=listen_fds, pass_fds=pass_fds)
        except TemplateFailed as exc:
            template.stop()
            return None, self._failed(str(exc)) if exc.ended else str(exc)
        template.stop()
        return StartedChild(pid, warm=True), ""

    def _failed(self, why: str) -> str:
        self._drop()
        self._failures += 1
        if self._failures >= MAX_TEMPLATE_FAILURES:
            self._gave_up = f"{MAX_TEMPLATE_FAILURES} templates in a row failed (the last: {why})"
        return why

    def _prepare(self, env: Mapping[str, str]) -> None:
        """Start a template (in the background), replacing any."""
        self._drop()
        if self.plan is None:
            return
        try:
            self.template = TemplateHandle(
                self.plan, env=env, cwd=self.cwd, root=self.root, learned=self.learned.path
            )
            self._interpreter_stat = _stat(self.plan.interpreter)
        except OSError as exc:
            self._gave_up = f"the template cannot start ({exc.strerror or exc})"

    def _drop(self) -> None:
        if self.template is not None:
            self.template.stop()
            self.template = None

    def _interpreter_changed(self) -> bool:
        return self.plan is None or _stat(self.plan.interpreter) != self._interpreter_stat

    def _ready_wait(self) -> float:
        try:
            return float(os.environ[READY_WAIT_ENV])
        except (KeyError, ValueError):
            pass
        if self._last_preload is None:
            return READY_WAIT_FIRST
        return max(READY_WAIT_MIN, 2 * self._last_preload)

    # -- cold starts ----------------------------------------------------------------------------

    def _cold(self, listen_fds: Sequence[int], pass_fds: Sequence[int]) -> StartedChild:
        command = list(self.command)
        if listen_fds:
            command = shim_command(list(listen_fds), command)
        process = subprocess.Popen(
            command,
            env=self.env,
            cwd=str(self.cwd),
            start_new_session=True,
            close_fds=True,
            pass_fds=(*listen_fds, *pass_fds),
        )
        return StartedChild.cold(process)

    # -- odds and ends --------------------------------------------------------------------------

    def _say_once(self, text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            self._say(text)

    def _show(self, path: str) -> str:
        try:
            return str(Path(path).relative_to(self.cwd))
        except ValueError:
            return path


def _default_state_dir() -> Path:
    return state_dir()


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _first_changed(files: Mapping[str, tuple[int, int]]) -> str | None:
    """The first file whose ``(mtime_ns, size)`` is not the one given (or that is gone)."""
    for path, (mtime, size) in files.items():
        try:
            stat = os.stat(path)
        except OSError:
            return path
        if stat.st_mtime_ns != mtime or stat.st_size != size:
            return path
    return None
