"""The template process: preloads the command's third-party modules, then forks the next child once.

    PYTHON [OPTIONS] template.py CONTROL_FD PLAN_JSON ROOT LEARNED_JSON

Started by :class:`~reloadd.client.warm.starter.WarmStarter` with the child's
interpreter, interpreter options, environment and working folder, so its
``sys.path`` is the child's (the entry this file's folder puts first is replaced by the
one the command's file or ``-m`` gives). Standard library only: it never imports
``reloadd`` or pyzmq, and loads ``preload.py`` and ``fresh.py`` by their paths.

The conversation on ``CONTROL_FD`` (a Unix stream socket):

1. the template preloads (:mod:`preload`), then sends one JSON line:
   ``{"kind": "ready", "files": {path: [mtime_ns, size]}, "skipped": {name: reason},
   "spoiled": reason | null, "imported": n, "seconds": s}``;
2. the supervisor sends ``{"kind": "fork", "listen": n, "passed": [fd, ...]}`` with, as
   ``SCM_RIGHTS``, its descriptors 0, 1, 2, the ``n`` sockets for ``LISTEN_FDS`` and the
   descriptors passed as they are;
3. the template forks twice: the middle process exits at once, so the grandchild — the
   new child — is adopted by the supervisor (a ``PR_SET_CHILD_SUBREAPER``), which waits
   for it as for any child and gets its exit status as it is. The grandchild makes a new
   session, writes its pid to a pipe, and becomes the command (:mod:`fresh`); the
   template answers ``{"kind": "forked", "pid": pid}`` once the middle process is reaped
   (so the child is the supervisor's by then), or ``{"kind": "error", "reason": ...}``
   — the template holds more than one thread, say — and exits. One template forks once.

End of file on the socket (the supervisor is gone or no longer needs it) ends the template.
"""

from __future__ import annotations

import array
import importlib.util
import json
import os
import signal
import socket
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))

TEMPLATE_ENV = "RELOADD_WARM_TEMPLATE"
"""Marks the template's environment for ``reloadd run``'s hook (``child_hook.TEMPLATE_ENV``)."""

MAX_FDS = 64
"""Most descriptors one fork request may carry."""


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"_reloadd_warm_{name}", os.path.join(HERE, f"{name}.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def child_path0(plan: dict[str, Any]) -> str | None:
    """The entry a fresh run puts first on ``sys.path``: the file's folder, the working
    folder for ``-m``, none in isolated or safe-path mode."""
    if sys.flags.isolated or getattr(sys.flags, "safe_path", False):
        return None
    if plan["module"]:
        return os.getcwd()
    return os.path.dirname(os.path.realpath(str(plan["target"])))


def learned(path: str) -> tuple[list[str], dict[str, str]]:
    """The module names to preload and those to leave out, from the supervisor's state file."""
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return [], {}
    modules = [name for name in data.get("modules", []) if isinstance(name, str)]
    skip = {str(name): str(why) for name, why in dict(data.get("skip", {})).items()}
    return modules, skip


def main(argv: list[str]) -> Callable[[], None] | None:
    """Serve one fork; return, in the forked child only, the function that runs the command."""
    control = socket.socket(fileno=int(argv[0]))
    plan = json.loads(argv[1])
    root, state = argv[2], argv[3]
    os.environ.pop(TEMPLATE_ENV, None)  # only the template's, never its fork's
    environ = dict(os.environ)
    cwd = os.getcwd()
    sys.argv[:] = list(plan["argv"])  # what a module that reads it at import time would see
    if hasattr(sys, "orig_argv"):
        sys.orig_argv = list(plan["orig_argv"])
    handlers = {number: signal.getsignal(number) for number in signal.valid_signals()}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the supervisor's, inherited
    if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.realpath(HERE):
        del sys.path[0]
    path0 = child_path0(plan)
    if path0 is not None:
        sys.path.insert(0, path0)
    fresh = _load("fresh")
    preload_module = _load("preload")
    fresh.OWN_FILES.add(os.path.abspath(__file__))
    finder = fresh._hook_finder()
    if finder is not None:
        finder.template_started()
        sys.meta_path.remove(finder)  # the child reports what it has, once forked
    modules, skip = learned(state)
    preload = preload_module.Preload(root, skip)
    preload.run(modules)
    spoiled = preload.spoiled
    _send(
        control,
        {
            "kind": "ready",
            "files": preload.stats,
            "skipped": preload.skipped,
            "spoiled": spoiled,
            "spoiled_by": preload.spoiled_by,
            "imported": preload.imported,
            "seconds": round(time.time() - preload.started, 3),
        },
    )
    request, fds = _receive(control)
    if request is None:
        return None
    threads = preload_module.thread_count()
    if spoiled or threads != 1:
        why = spoiled or f"the template holds {threads} threads"
        _send(control, {"kind": "error", "reason": why})
        return None
    listen, passed = int(request.get("listen", 0)), [int(fd) for fd in request.get("passed", [])]
    reader, writer = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    middle = os.fork()
    if middle == 0:
        if _middle(reader, writer):  # True only in the grandchild
            control.close()
            try:
                fresh.become_child(
                    plan,
                    received=fds,
                    listen=listen,
                    passed=passed,
                    environ=environ,
                    cwd=cwd,
                    handlers=handlers,
                    mask=mask,
                )
            except BaseException as exc:  # noqa: BLE001 (never run the command half-prepared)
                fresh.exec_cold(plan, environ, listen, exc)
            return lambda: fresh.run(plan)
        os._exit(0)
    os.close(writer)
    os.waitpid(middle, 0)
    pid = _read_all(reader)
    os.close(reader)
    for fd in fds:
        os.close(fd)
    if pid.isdigit():
        _send(control, {"kind": "forked", "pid": int(pid)})
    else:
        _send(control, {"kind": "error", "reason": "the forked child did not start"})
    return None


def _middle(reader: int, writer: int) -> bool:
    """In the middle process: fork the child and return True in it; return False here."""
    try:
        if os.fork() != 0:
            return False
        os.close(reader)
        os.setsid()
        os.write(writer, str(os.getpid()).encode())
        os.close(writer)
        return True
    except BaseException:  # noqa: BLE001 (nothing must run on in a broken fork)
        os._exit(1)


def _read_all(fd: int) -> str:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 64)
        if not chunk:
            return b"".join(chunks).decode()
        chunks.append(chunk)


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    try:
        control.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass  # the supervisor is gone; the next receive ends the template


def _receive(control: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    fds = array.array("i")
    try:
        data, ancillary, _, _ = control.recvmsg(1 << 16, socket.CMSG_SPACE(MAX_FDS * fds.itemsize))
    except OSError:
        return None, []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    try:
        request = json.loads(data)
    except ValueError:
        request = None
    if not isinstance(request, dict) or request.get("kind") != "fork":
        for fd in fds:
            os.close(fd)
        return None, []
    return request, list(fds)


if __name__ == "__main__":
    _command = main(sys.argv[1:])
    if _command is None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # the template's preloaded modules have nothing to do at exit
    _command()
