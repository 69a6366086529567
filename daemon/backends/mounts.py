"""Which watched roots must be polled: those on a file system whose changes inotify never sees.

inotify reports what this kernel does to a file. On a network or VM share (NFS, CIFS/SMB,
9p, virtiofs, the FUSE shares of Docker Desktop and of VMs, WSL's ``/mnt/*``) the files
are written by another machine or the host, and no event arrives here; Watchman, which
sits on inotify, is just as blind. Such a root is polled instead
(:mod:`~reloadd.daemon.backends.poller`).

A root's file system is the one mounted at the longest mount point that is a prefix of
its real path, as ``/proc/self/mountinfo`` lists them (the last of several mounts on one
point is the visible one). :data:`POLL_FS_TYPES` is the one list of types polled.

Overrides, read from the daemon's environment:

* ``RELOADD_FORCE_POLLING=1``: poll every root.
* ``RELOADD_POLL_FS_TYPES=type,type``: more file-system types to poll (as ``mountinfo``
  names them, e.g. ``fuse.mything``).
* ``RELOADD_POLL_PATHS=/a:/b``: poll roots at or below these folders, whatever their file
  system (a share this list does not know; also how tests make a root "NFS-like").
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reloadd.daemon.backends.nesting import is_within

__all__ = [
    "FORCE_POLLING_VAR",
    "MOUNTINFO",
    "POLL_FS_TYPES",
    "POLL_FS_TYPES_VAR",
    "POLL_PATHS_VAR",
    "Mount",
    "PollPolicy",
    "mount_of",
    "parse_mountinfo",
]

POLL_FS_TYPES: frozenset[str] = frozenset(
    {
        # Network file systems: the server, or another client, writes the files.
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "afs",
        "ceph",
        "fuse.sshfs",
        "fuse.rclone",
        "fuse.glusterfs",
        # Shares of a host into a VM or container.
        "9p",  # QEMU/virtio-9p, WSL 2's /mnt/* (drvfs over 9p)
        "virtiofs",  # Docker Desktop, Lima, QEMU, WSL
        "drvfs",  # WSL 1's /mnt/*
        "vboxsf",  # VirtualBox shared folders
        "vmhgfs",
        "fuse.vmhgfs-fuse",  # VMware shared folders
        "prl_fs",  # Parallels shared folders
        "fuse.grpcfuse",  # Docker Desktop (gRPC FUSE file sharing)
        "fuse.osxfs",  # Docker Desktop (osxfs, older releases)
        "fakeowner",  # Docker Desktop (virtiofs shares, as seen inside the container)
    }
)
"""File-system types (as ``/proc/self/mountinfo`` names them) whose roots are polled."""

MOUNTINFO = Path("/proc/self/mountinfo")
"""Where the mounts visible to this process are listed (Linux)."""

FORCE_POLLING_VAR = "RELOADD_FORCE_POLLING"
"""Set to ``1`` (or ``true``, ``yes``, ``on``) to poll every root."""

POLL_FS_TYPES_VAR = "RELOADD_POLL_FS_TYPES"
"""Comma-separated file-system types to poll, in addition to :data:`POLL_FS_TYPES`."""

POLL_PATHS_VAR = "RELOADD_POLL_PATHS"
"""Folders (separated by ``:``) whose roots are polled whatever their file system."""

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class Mount:
    """One line of ``mountinfo``: where a file system is mounted, and its type."""

    mount_point: str
    fs_type: str


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts listed in ``text`` (``/proc/self/mountinfo``'s format), in order.

    Each line is ``ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - TYPE SOURCE
    SUPER_OPTIONS``; the mount point has spaces, tabs, newlines and backslashes escaped
    in octal (``\\040``). Malformed lines are skipped.
    """
    mounts: list[Mount] = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            separator = fields.index("-", 6)
        except ValueError:
            continue
        if len(fields) <= separator + 1 or len(fields) < 5:
            continue
        mounts.append(Mount(_unescape(fields[4]), fields[separator + 1]))
    return mounts


def _unescape(field: str) -> str:
    """A mountinfo field with its ``\\NNN`` octal escapes decoded."""
    if "\\" not in field:
        return field
    out: list[str] = []
    i = 0
    while i < len(field):
        digits = field[i + 1 : i + 4]
        if field[i] == "\\" and len(digits) == 3 and all(c in "01234567" for c in digits):
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_of(path: str, mounts: Iterable[Mount]) -> Mount | None:
    """The mount ``path`` (an absolute real path) lies on: the longest mount point above it.

    Of several mounts on the same point the last listed wins (it hides the others).
    """
    best: Mount | None = None
    for mount in mounts:
        if not is_within(path, mount.mount_point):
            continue
        if best is None or len(mount.mount_point) >= len(best.mount_point):
            best = mount
    return best


class PollPolicy:
    """Decides, per root, whether it is polled; and why, for the log and ``status``."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        mountinfo: str | None = None,
    ) -> None:
        """``env``: the environment to read the overrides from (``os.environ`` by default).
        ``mountinfo``: the mount table's text (read from :data:`MOUNTINFO` when needed)."""
        environ = os.environ if env is None else env
        self.forced = environ.get(FORCE_POLLING_VAR, "").strip().lower() in _TRUE
        extra = environ.get(POLL_FS_TYPES_VAR, "")
        self.fs_types = POLL_FS_TYPES | {t.strip() for t in extra.split(",") if t.strip()}
        self.paths = tuple(
            os.path.realpath(p) for p in environ.get(POLL_PATHS_VAR, "").split(":") if p.strip()
        )
        self._mountinfo = mountinfo

    def reason(self, root: str) -> str | None:
        """Why ``root`` (a real path) must be polled, or ``None`` when its events reach us."""
        if self.forced:
            return f"{FORCE_POLLING_VAR} is set"
        for folder in self.paths:
            if is_within(root, folder):
                return f"it is below {folder}, named in {POLL_PATHS_VAR}"
        mount = mount_of(root, self._mounts())
        if mount is not None and mount.fs_type in self.fs_types:
            return f"its file system is {mount.fs_type} (mounted at {mount.mount_point})"
        return None

    def _mounts(self) -> list[Mount]:
        text = self._mountinfo
        if text is None:
            try:
                text = MOUNTINFO.read_text(errors="replace")
            except OSError:
                return []  # not Linux, or no /proc: nothing is known to need polling
        return parse_mountinfo(text)
