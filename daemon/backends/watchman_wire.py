"""Talking to Watchman: connections, commands, subscription specs, and priming.

Everything here is one request and its answer on a pywatchman connection; the
threads, subscriptions and reconnection of the backend live in
:mod:`reloadd.daemon.backends.watchman` and the modules it names.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pywatchman

from reloadd.daemon.backends.nesting import outermost
from reloadd.protocol.errors import BackendError, WatchmanUnavailable

log = logging.getLogger("reloadd.daemon.watchman")

CONNECT_TIMEOUT = 10.0
"""Seconds to connect to Watchman and get its version."""


FIELDS = ("name", "exists", "new", "type", "mtime_ms", "size")
"""The file fields each subscription asks for."""


REQUIRED_CAPABILITIES = ("cmd-watch-project", "term-dirname", "clock-sync-timeout")
"""What this backend needs from the Watchman server (all present since Watchman 4.x)."""


PRIME_ROUNDS = 2
"""Synced settles a new subscription must have processed before it is trusted (Watchman 4.x)."""


PRIME_POLL = 0.005
"""Seconds between two looks at whether Watchman has dispatched a settle to a subscription."""


_RECRAWL_WARNING = re.compile(r"Recrawled this watch (\d+) time")


INSTALL_HINT = (
    "install Watchman (https://facebook.github.io/watchman/docs/install) and check that "
    "'watchman version' works, or run reloadd with '--backend builtin'"
)


class ExactReadTransport(pywatchman.UnixSocketTransport):  # type: ignore[misc]
    """A Unix-socket transport whose reads return exactly the bytes asked for.

    pywatchman's BSER codec reads a 13-byte header, then exactly the rest of the
    message, so it never consumes bytes of the next message and ``poll`` on the
    socket stays truthful. But a plain ``recv`` may return a short header, which
    the codec cannot parse; looping here rules that out (every Watchman message is
    longer than 13 bytes).
    """

    def readBytes(self, size: int) -> bytes:
        """Read exactly ``size`` bytes."""
        chunks: list[bytes] = []
        missing = size
        while missing > 0:
            chunk: bytes = super().readBytes(missing)
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)


def connect(sockpath: str | None, timeout: float) -> tuple[Any, str]:
    """A new pywatchman client, connected and checked, and the server's version.

    Raises :class:`WatchmanUnavailable`.
    """
    client = pywatchman.client(sockpath=sockpath, timeout=timeout, transport=ExactReadTransport)
    # These are class attributes in pywatchman, shared by every client in the process.
    client.subs = {}
    client.sub_by_root = {}
    client.logs = []
    where = f" at {sockpath}" if sockpath else ""
    try:
        answer = client.capabilityCheck(required=list(REQUIRED_CAPABILITIES))
    except pywatchman.CommandError as exc:
        client.close()
        raise WatchmanUnavailable(
            f"the Watchman server{where} is too old for reloadd ({reason(exc)}); "
            f"upgrade Watchman, or run reloadd with '--backend builtin'"
        ) from exc
    except (pywatchman.WatchmanError, OSError, ValueError) as exc:
        client.close()
        raise WatchmanUnavailable(
            f"cannot talk to Watchman{where} ({exc}): {INSTALL_HINT}"
        ) from exc
    return client, str(answer.get("version", ""))


def leaves_last_tick_unset(version: str) -> bool:
    """Whether this Watchman leaves a new subscription's ``last_sub_tick`` uninitialised.

    Watchman 4.x (4.9.0 is still what Debian and Ubuntu ship) declares it as a bare
    ``uint32_t``; releases since then (date-numbered, e.g. ``2024.01.22.00``) set it to 0.
    """
    major = version.split(".", 1)[0]
    return not major.isdigit() or int(major) < 2000


def subscriber_serial(answer: dict[str, Any], name: str) -> int | None:
    """The last unilateral serial the subscription ``name`` consumed (``debug-get-subscriptions``)."""
    for subscriber in answer.get("subscribers", ()):
        info = subscriber.get("info")
        # Watchman 4.9 puts the bare name here; later releases an object with a "name".
        found = info.get("name") if isinstance(info, dict) else info
        if found == name and isinstance(subscriber.get("serial"), int):
            return int(subscriber["serial"])
    return None


def recrawl_count(message: Mapping[str, Any]) -> int:
    """How often Watchman says it recrawled the root, from a message's ``warning`` (0 if none)."""
    found = _RECRAWL_WARNING.search(str(message.get("warning") or ""))
    return int(found.group(1)) if found else 0


def reduce_prefixes(prefixes: Iterable[str]) -> frozenset[str]:
    """Drop every relative folder that lies below another one (``""`` covers everything)."""
    unique = set(prefixes)
    if "" in unique:
        return frozenset({""})
    return outermost(unique)


def query_spec(prefixes: frozenset[str], since: str | None) -> dict[str, Any]:
    """The ``subscribe`` (or ``query``) spec for a watch root restricted to the folders ``prefixes``."""
    spec: dict[str, Any] = {
        "fields": list(FIELDS),
        "empty_on_fresh_instance": True,
        # defer_vcs stays at its default (on) and the settle time comes from Watchman's config.
    }
    if prefixes != {""}:
        terms = [["dirname", p] for p in sorted(prefixes)]
        spec["expression"] = terms[0] if len(terms) == 1 else ["anyof", *terms]
    if since is not None:
        spec["since"] = since
    return spec


class Commands:
    """A command connection to Watchman, opened when first needed; one thread uses it at a time."""

    def __init__(self, sockpath: str | None) -> None:
        self._sockpath = sockpath
        self._client: Any = None

    def connect(self, timeout: float) -> str:
        """Connect now (closing any previous connection); the server's version."""
        self.close()
        self._client, version = connect(self._sockpath, timeout)
        return version

    def close(self) -> None:
        """Close the connection; the next command opens a new one."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def query(self, deadline: float, *args: Any) -> dict[str, Any]:
        """Run one Watchman command within ``deadline``.

        Raises :class:`BackendError` if Watchman refuses it, :class:`WatchmanUnavailable`
        if it cannot be run.
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WatchmanUnavailable(f"timed out before Watchman ran {args[0]!r}")
        try:
            if self._client is None:
                self._client, _ = connect(self._sockpath, min(remaining, CONNECT_TIMEOUT))
            self._client.setTimeout(remaining)
            answer: dict[str, Any] = self._client.query(*args)
        except pywatchman.CommandError as exc:
            where = f" on {args[1]}" if len(args) > 1 else ""
            raise BackendError(f"Watchman refused {args[0]!r}{where}: {reason(exc)}") from exc
        except (pywatchman.WatchmanError, OSError, ValueError) as exc:
            # After a timeout the answer may still arrive: the connection is out of step.
            self.close()
            raise WatchmanUnavailable(f"Watchman did not answer {args[0]!r} ({exc})") from exc
        return answer

    def sync(self, watch_root: str, deadline: float) -> None:
        """Return once Watchman has seen every change made to ``watch_root`` before now."""
        sync_ms = max(1, int((deadline - time.monotonic()) * 1000))
        self.query(deadline, "clock", watch_root, {"sync_timeout": sync_ms})


def prime_subscription(commands: Commands, watch_root: str, name: str, deadline: float) -> None:
    """Sync, and wait until the new subscription ``name`` has handled the settle that follows.

    Watchman 4.x leaves a new subscription's "last tick" uninitialised (often the value a
    freed subscription left in the same memory). Until the subscription has run once,
    a settle whose tick equals that stray value is skipped as "up to date", so the change
    behind it is reported only with the next one. Each synced ``clock`` makes a settle at a
    new tick, and the stray value can match at most one of them; two rounds, because
    Watchman shows a settle as taken just before the subscription handles it.
    """
    for _ in range(PRIME_ROUNDS):
        before = commands.query(deadline, "debug-get-subscriptions", watch_root)
        first = before.get("next_serial")
        commands.sync(watch_root, deadline)
        if not isinstance(first, int):
            log.debug("cannot prime %s: unknown debug-get-subscriptions format", name)
            return
        while True:
            answer = commands.query(deadline, "debug-get-subscriptions", watch_root)
            serial = subscriber_serial(answer, name)
            if serial is None:
                return  # replaced or canceled meanwhile: nothing left to prime
            if serial >= first:
                break
            if time.monotonic() + PRIME_POLL > deadline:
                raise WatchmanUnavailable(
                    f"Watchman did not settle {watch_root} in time after subscribing"
                )
            time.sleep(PRIME_POLL)


def settle(
    commands: Commands, created: Mapping[str, str | None], *, prime: bool, deadline: float
) -> None:
    """Make each watch root's subscription current: prime new ones (if needed), sync the rest."""
    for watch_root, name in created.items():
        if name is not None and prime:
            prime_subscription(commands, watch_root, name, deadline)
        else:
            # Synced after the subscription exists: every change made before now has been
            # seen, so any change made after we return is one the subscription will report.
            commands.sync(watch_root, deadline)


def reason(exc: Any) -> str:
    """The message of a pywatchman ``CommandError`` without its generic prefix."""
    return str(exc.msg).removeprefix("watchman command error: ")
