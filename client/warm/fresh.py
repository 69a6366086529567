"""In the forked child: make the process look like a fresh ``exec`` of the command, then run it.

Standard library only, no ``reloadd`` import (the template loads this file by its path).
The template's fork, already in a session of its own, calls :func:`become_child`, which
sets:

* file descriptors: 0-2 are the ones the supervisor sent (its own, as a fresh run
  inherits them), the ``LISTEN_FDS`` sockets are 3, 4, ..., descriptors passed as they are
  keep their number, and every other descriptor is closed;
* the environment the template started with (``LISTEN_FDS``/``LISTEN_PID`` = this pid
  when sockets are handed over), the working folder, ``sys.argv``, ``sys.orig_argv``;
* the signal mask and each signal's handler as the template had them at start (the
  supervisor's mask, inherited as by a cold child; the interpreter's handlers);
* a fresh ``__main__`` module; ``random`` reseeded (CPython's own fork hooks reseed it
  too, and ``os.urandom``, ``secrets`` and ``uuid.uuid4`` read the kernel's entropy at
  each call);
* ``reloadd run``'s import hook reconnected, reporting every module the child has.

Then :func:`run` runs the file as ``python FILE`` does (in ``__main__``, with the
file's absolute path as ``__file__``), or the module as ``python -m`` does
(``runpy``); an uncaught exception is printed by ``sys.excepthook`` without this
file's frames, and the process exits with code 1, as a fresh run does.
"""

from __future__ import annotations

import builtins
import fcntl
import os
import signal
import sys
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOOK_MODULE = "_reloadd_run_hook"
"""The name ``reloadd run``'s startup hook loads ``child_hook.py`` under."""

OWN_FILES: set[str] = {os.path.abspath(__file__)}
"""Files whose frames are left out of a traceback (the template adds its own)."""


def place_descriptors(received: list[int], targets: list[int]) -> None:
    """Make ``received[i]`` descriptor ``targets[i]`` and close every other descriptor above 2."""
    floor = max([*targets, 2]) + 1
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, floor) for fd in received]
    for fd in received:
        os.close(fd)
    keep = set(high)
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 256))
    for fd in open_fds:
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    for index, target in enumerate(targets):
        os.dup2(high[index], target)  # inheritable, as a fresh run's 0-2 and handed sockets are
    for fd in high:
        if fd not in targets:
            os.close(fd)


def become_child(
    plan: dict[str, Any],
    *,
    received: list[int],
    listen: int,
    passed: list[int],
    environ: dict[str, str],
    cwd: str,
    handlers: dict[int, Any],
    mask: set[signal.Signals] | None = None,
) -> None:
    """Turn this fork into the command's fresh process (see the module's docstring)."""
    finder = _hook_finder()
    if finder is not None:
        finder.reporter.disconnect()  # its descriptor is about to be closed
    place_descriptors(received, [0, 1, 2, *range(3, 3 + listen), *passed])
    signal.pthread_sigmask(signal.SIG_SETMASK, mask or set())
    for number, handler in handlers.items():
        if signal.getsignal(number) is not handler and handler is not None:
            try:
                signal.signal(number, handler)
            except (OSError, ValueError, TypeError):
                pass
    os.environ.clear()
    os.environ.update(environ)
    for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    if listen:
        os.environ["LISTEN_FDS"] = str(listen)
        os.environ["LISTEN_PID"] = str(os.getpid())
    os.chdir(cwd)
    set_command_line(list(plan["orig_argv"]))
    sys.argv[:] = list(plan["argv"])
    if hasattr(sys, "orig_argv"):
        sys.orig_argv = list(plan["orig_argv"])
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    if "random" in sys.modules:
        sys.modules["random"].seed()
    if finder is not None:
        sys.meta_path.insert(0, finder)
        finder.forked_as_main()


def set_command_line(argv: list[str]) -> bool:
    """Show ``argv`` as this process's command line (``ps``, ``/proc/PID/cmdline``), over the
    template's own, which is longer; False if it cannot (no ``/proc``, or too long)."""
    wanted = b"\0".join(os.fsencode(arg) for arg in argv) + b"\0"
    try:
        with open("/proc/self/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48, 49)
        if len(wanted) > end - start:
            return False
        with open("/proc/self/mem", "r+b", buffering=0) as memory:
            memory.seek(start)
            memory.write(wanted.ljust(end - start, b"\0"))
    except (OSError, IndexError, ValueError):
        return False
    return True


def run(plan: dict[str, Any]) -> None:
    """Run the command's file or module in ``__main__``, as the interpreter does."""
    try:
        if plan["module"]:
            import runpy

            runpy._run_module_as_main(plan["target"], alter_argv=True)  # type: ignore[attr-defined]
        else:
            _run_file(plan["target"])
    except SystemExit:
        raise
    except KeyboardInterrupt as exc:
        raise exc.with_traceback(_without_own_frames(exc.__traceback__)) from None
    except BaseException as exc:  # noqa: BLE001 (the interpreter's own top level)
        # The default hook prints the exception's own traceback, not the one it is given.
        exc.with_traceback(_without_own_frames(exc.__traceback__))
        sys.excepthook(type(exc), exc, exc.__traceback__)
        sys.exit(1)


def _run_file(path: str) -> None:
    from importlib.machinery import SourceFileLoader

    main = sys.modules["__main__"]
    main.__file__ = path
    main.__dict__["__cached__"] = None
    main.__loader__ = SourceFileLoader("__main__", path)
    main.__spec__ = None
    try:
        with open(path, "rb") as file:
            source = file.read()
    except OSError as exc:  # gone since the template started: as the interpreter says it
        print(
            f"{sys.executable}: can't open file {path!r}: [Errno {exc.errno}] {exc.strerror}",
            file=sys.stderr,
        )
        sys.exit(2)
    code = compile(source, path, "exec", dont_inherit=True)
    exec(code, main.__dict__)


def exec_cold(
    plan: dict[str, Any], environ: dict[str, str], listen: int, error: BaseException
) -> None:
    """The last resort of a fork that could not make itself the command: say so, and ``exec``
    the command (a cold start in the same process, which the supervisor already waits for)."""
    try:
        print(
            f"reloadd: the forked child could not be prepared ({error!r}); "
            "starting the command afresh",
            file=sys.stderr,
            flush=True,
        )
        env = dict(environ)
        if listen:
            env["LISTEN_FDS"], env["LISTEN_PID"] = str(listen), str(os.getpid())
        os.execve(plan["interpreter"], list(plan["orig_argv"]), env)
    finally:
        os._exit(127)


def _without_own_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    while tb is not None and tb.tb_frame.f_code.co_filename in OWN_FILES:
        tb = tb.tb_next
    return tb


def _hook_finder() -> Any:
    hook = sys.modules.get(HOOK_MODULE)
    finder = getattr(hook, "_installed", None)
    return finder if finder is not None and hasattr(finder, "forked_as_main") else None
