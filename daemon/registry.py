"""The daemon's clients, what each registered, and the index from paths to clients."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from reloadd.protocol import (
    Crash,
    ErrorCode,
    GlobSpec,
    Hello,
    ProtocolError,
    ReloadInfo,
    Role,
    ServerState,
)
from reloadd.protocol.digest import registration_digest
from reloadd.protocol.file_state import FileState
from reloadd.protocol.globs import compile_glob
from reloadd.protocol.limits import (
    MAX_CLIENTS,
    MAX_FILES_PER_CLIENT,
    MAX_FILES_TOTAL,
    MAX_GLOBS_PER_CLIENT,
)

ClientId = bytes
"""The ZeroMQ routing id of a client's connection."""


@dataclass
class ClientRecord:
    """One connected client and its registration."""

    identity: ClientId
    name: str
    pid: int
    role: Role
    connected_at: float
    last_seen: float
    """When the client last sent anything (Unix time)."""
    connected: bool = True
    """False once the client left; its registration is kept until ``retained_until``."""
    retained_until: float = 0.0
    key: int = 0
    digest: str = ""
    """The registration digest, computed when the client departs (for ``welcome``)."""
    """Stable for the registration's life (unlike ``identity``, which changes when a
    restarted client takes its registration back): what the indexes refer to."""
    files: dict[str, str] = field(default_factory=dict)
    """Each file as the client spelled it → its real path (what backends report)."""
    real_files: dict[str, str] = field(default_factory=dict)
    """Real path → the client's spelling where the two differ (symlinks), to name changes
    the way the client registered them; most paths are their own real path."""
    globs: dict[GlobSpec, str] = field(default_factory=dict)
    """Each glob → the real path of its folder."""
    told: dict[str, FileState] = field(default_factory=dict)
    """Real path → the file's state when the client was last told it changed (no repeats)."""
    taken_back: bool = False
    """Set when a ``hello`` took this registration back, until the client's next ``watch``."""
    unwatched_files: dict[str, str] = field(default_factory=dict)
    """Files (as given → real path) no watched root covered when last checked; until a
    root is dropped roots only grow, so no other file of the registration can be uncovered."""
    unwatched_globs: dict[GlobSpec, str] = field(default_factory=dict)
    """Globs (→ the real path of their folder) no watched root covered when last checked."""
    state: ServerState | None = None
    """The last state the client reported (``state``), or None if it never reported one."""
    state_since: float = 0.0
    """When it reported ``state`` (Unix time)."""
    error: Crash | None = None
    """What failed, while ``state`` is ``crashed``."""
    cause_at: float = 0.0
    """When the daemon last told this registration of a change, or sent it ``restart``: what a
    ``ready`` after it is timed from (0.0 once a ``ready`` used it, or before any)."""
    cause_paths: tuple[str, ...] = ()
    """What changed then (at most ``MAX_RELOAD_PATHS``; empty for a ``restart``)."""
    cause_omitted: int = 0
    last_reload: ReloadInfo | None = None
    """Its last restart that came back ``ready`` (what caused it, how long it took)."""
    last_error: Crash | None = None
    """The last crash it reported, kept after it is fixed."""
    last_error_at: float = 0.0


class Registry:
    """Clients by routing id, plus indexes from file and glob folder to the clients that want them."""

    def __init__(self) -> None:
        self._clients: dict[ClientId, ClientRecord] = {}
        self._by_key: dict[int, ClientRecord] = {}
        self._keys = itertools.count(1)
        self._by_file: dict[str, frozenset[int]] = {}
        self._owner_sets: dict[frozenset[int], frozenset[int]] = {}
        """Every distinct set of owners, once: files with the same owners share one set
        (eight dev servers on the same 20,000 files need one set, not 20,000)."""
        self._globs_by_dir: dict[str, dict[str, dict[int, str]]] = {}
        """Real folder → pattern → client key → the folder as that client spelled it."""
        self._file_count = 0
        """Files registered, summed over every client (for ``MAX_FILES_TOTAL``)."""

    def __len__(self) -> int:
        return len(self._clients)

    def __iter__(self) -> Iterator[ClientRecord]:
        return iter(list(self._clients.values()))

    def get(self, identity: ClientId) -> ClientRecord | None:
        """The client with this routing id, if registered."""
        return self._clients.get(identity)

    def add(self, identity: ClientId, hello: Hello, *, now: float) -> ClientRecord:
        """Register a client from its ``hello`` (a repeated hello starts its registration afresh)."""
        if identity in self._clients:
            self.remove(identity)
        elif len(self._clients) >= MAX_CLIENTS:
            self._evict_one_retained()
        if len(self._clients) >= MAX_CLIENTS:
            raise ProtocolError(
                f"this daemon already serves {MAX_CLIENTS} clients, its limit; "
                "stop dev servers you no longer use",
                code=ErrorCode.LIMIT_EXCEEDED,
            )
        record = ClientRecord(
            identity=identity,
            name=hello.name,
            pid=hello.pid,
            role=hello.role,
            connected_at=now,
            last_seen=now,
            key=next(self._keys),
        )
        self._by_key[record.key] = record
        self._clients[identity] = record
        return record

    def adopt(self, identity: ClientId, hello: Hello, *, now: float) -> ClientRecord | None:
        """Give a client that left, and now says hello again under the same name, its registration back."""
        for old in self._clients.values():
            if not old.connected and old.name == hello.name and old.role == hello.role:
                break
        else:
            return None
        if identity in self._clients and identity != old.identity:
            self.remove(identity)
        record = self._clients.pop(old.identity)
        record.identity = identity  # the indexes use record.key: nothing to re-index
        record.pid = hello.pid
        record.connected = True
        record.connected_at = record.last_seen = now
        record.taken_back = True
        self._clients[identity] = record
        return record

    def settle_taken_back(self, record: ClientRecord, *, unchanged: bool) -> None:
        """At the first ``watch`` after a take-back: keep the registration if ``unchanged``, else drop it.

        A client whose files differ from what it took back sends them all again: what
        it no longer registers (a folder deleted since, say) must not be reported to it.
        """
        if record.taken_back:
            record.taken_back = False
            if not unchanged:
                self.unwatch(record, list(record.files), list(record.globs))

    def depart(self, identity: ClientId, *, until: float) -> ClientRecord | None:
        """Mark a client as gone but keep its registration until ``until`` (its grace period).

        A one-shot tool (``Role.TOOL``) is forgotten at once: nothing comes back for it.
        """
        record = self._clients.get(identity)
        if record is not None and record.role is Role.TOOL:
            self.remove(identity)
            record.connected = False
        elif record is not None:
            if record.connected:
                record.digest = registration_digest(record.files, record.globs)
            record.connected = False
            record.retained_until = until
        return record

    def expire(self, now: float) -> list[ClientRecord]:
        """Forget clients whose grace period is over; return them."""
        expired = [r for r in self._clients.values() if not r.connected and r.retained_until <= now]
        for record in expired:
            self.remove(record.identity)
        return expired

    def _evict_one_retained(self) -> None:
        retained = [r for r in self._clients.values() if not r.connected]
        if retained:
            self.remove(min(retained, key=lambda r: r.retained_until).identity)

    def remove(self, identity: ClientId) -> ClientRecord | None:
        """Forget a client and everything it registered."""
        record = self._clients.pop(identity, None)
        if record is not None:
            self._by_key.pop(record.key, None)
            self._unindex(record, record.files, record.globs)
            self._file_count -= len(record.files)
        return record

    def check_limits(
        self, record: ClientRecord, files: Iterable[str], globs: Iterable[GlobSpec]
    ) -> None:
        """Raise ``limit_exceeded`` if adding these would take the client over its limits."""
        new_files = len(record.files) + sum(1 for f in set(files) if f not in record.files)
        new_globs = len(record.globs) + sum(1 for g in set(globs) if g not in record.globs)
        if new_files > MAX_FILES_PER_CLIENT:
            raise ProtocolError(
                f"{record.name} would watch {new_files} files, over the limit of "
                f"{MAX_FILES_PER_CLIENT}; watch folders with globs instead",
                code=ErrorCode.LIMIT_EXCEEDED,
            )
        if self._file_count + new_files - len(record.files) > MAX_FILES_TOTAL:
            raise ProtocolError(
                f"this daemon would hold more than {MAX_FILES_TOTAL} file registrations "
                "across its clients, its limit; stop dev servers you no longer use, or "
                "watch folders with globs instead",
                code=ErrorCode.LIMIT_EXCEEDED,
            )
        if new_globs > MAX_GLOBS_PER_CLIENT:
            raise ProtocolError(
                f"{record.name} would watch {new_globs} globs, over the limit of "
                f"{MAX_GLOBS_PER_CLIENT}",
                code=ErrorCode.LIMIT_EXCEEDED,
            )

    def watch(
        self, record: ClientRecord, files: Mapping[str, str], globs: Mapping[GlobSpec, str]
    ) -> None:
        """Add files and globs (each mapped to its real path) to a client's registration.

        Call :meth:`check_limits` first.
        """
        new_files = {given: real for given, real in files.items() if given not in record.files}
        new_globs = {glob: real for glob, real in globs.items() if glob not in record.globs}
        record.files.update(new_files)
        record.globs.update(new_globs)
        self._file_count += len(new_files)
        self._index(record, new_files, new_globs)

    def _index(
        self, record: ClientRecord, files: Mapping[str, str], globs: Mapping[GlobSpec, str]
    ) -> None:
        for given, real in files.items():
            if real != given:
                record.real_files[real] = given
            self._by_file[real] = self._shared(self._by_file.get(real, frozenset()) | {record.key})
        for glob, real_dir in globs.items():
            patterns = self._globs_by_dir.setdefault(real_dir, {})
            patterns.setdefault(glob.pattern, {})[record.key] = glob.directory

    def unwatch(
        self, record: ClientRecord, files: Iterable[str], globs: Iterable[GlobSpec]
    ) -> None:
        """Remove files and globs from a client's registration (unknown ones are ignored)."""
        drop_files = {
            given: record.files.pop(given) for given in set(files) if given in record.files
        }
        drop_globs = {glob: record.globs.pop(glob) for glob in set(globs) if glob in record.globs}
        self._file_count -= len(drop_files)
        for real in drop_files.values():
            record.real_files.pop(real, None)
        self._unindex(record, drop_files, drop_globs)

    def tracked_files(self) -> set[str]:
        """The real path of every file any client registered."""
        return set(self._by_file)

    def route(self, paths: Iterable[str]) -> dict[ClientId, set[str]]:
        """Which clients registered which of these changed real paths (a file or a matching glob).

        Paths are returned as each client spelled them when it registered them.
        """
        routed: dict[ClientId, set[str]] = {}
        for path in paths:
            for key in self._by_file.get(path, ()):
                record = self._by_key[key]
                routed.setdefault(record.identity, set()).add(record.real_files.get(path, path))
            if self._globs_by_dir:
                self._route_globs(path, routed)
        return routed

    def _route_globs(self, path: str, routed: dict[ClientId, set[str]]) -> None:
        parts = path.split("/")
        for depth in range(len(parts) - 1, 0, -1):
            directory = "/".join(parts[:depth]) or "/"
            patterns = self._globs_by_dir.get(directory)
            if not patterns:
                continue
            relative = tuple(parts[depth:])
            for pattern, owners in patterns.items():
                if compile_glob(pattern).matches(relative):
                    for key, given_dir in owners.items():
                        given = given_dir.rstrip("/") + "/" + "/".join(relative)
                        routed.setdefault(self._by_key[key].identity, set()).add(given)

    def _shared(self, owners: frozenset[int]) -> frozenset[int]:
        shared = self._owner_sets.setdefault(owners, owners)
        if len(self._owner_sets) > 64 + 4 * len(self._clients):
            # Forget owner sets no file uses any more (clients come and go).
            live = set(self._by_file.values())
            live.add(shared)
            self._owner_sets = {owners: owners for owners in live}
        return shared

    def _unindex(
        self, record: ClientRecord, files: Mapping[str, str], globs: Mapping[GlobSpec, str]
    ) -> None:
        for real in files.values():
            owners = self._by_file.get(real)
            if owners is not None:
                if owners == {record.key}:
                    del self._by_file[real]
                else:
                    self._by_file[real] = self._shared(owners - {record.key})
        for glob, real_dir in globs.items():
            patterns = self._globs_by_dir.get(real_dir, {})
            glob_owners = patterns.get(glob.pattern)
            if glob_owners is not None:
                glob_owners.pop(record.key, None)
                if not glob_owners:
                    del patterns[glob.pattern]
                if not patterns:
                    self._globs_by_dir.pop(real_dir, None)
