"""Which roots are polled: the mount table parsed, the longest mount point found, the overrides."""

from __future__ import annotations

import os

from reloadd.daemon.backends.mounts import (
    POLL_FS_TYPES,
    Mount,
    PollPolicy,
    mount_of,
    parse_mountinfo,
)

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
30 27 0:40 / /home/me/proj rw,relatime shared:5 - nfs4 server:/export/proj rw,vers=4.2
31 30 0:41 / /home/me/proj/local rw,relatime - ext4 /dev/vdb rw
32 27 0:42 / /mnt/c rw,noatime - 9p drvfs rw,aname=drvfs;path=C:\\
33 27 0:43 / /mnt/my\\040share rw - cifs //nas/share rw
34 27 0:44 / /srv rw - ext4 /dev/vdc rw
35 27 0:45 / /srv rw - virtiofs mount0 rw
36 27 0:46 / /Users rw master:1 - fakeowner /run/host_mark/Users rw
"""


def test_each_line_gives_its_mount_point_and_type() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert mounts[0] == Mount("/proc", "proc")
    assert Mount("/home/me/proj", "nfs4") in mounts  # an optional field before " - "
    assert Mount("/mnt/my share", "cifs") in mounts  # \040 is a space
    assert len(mounts) == 9


def test_malformed_lines_are_skipped() -> None:
    assert parse_mountinfo("garbage\n\n1 2 3 4 /x opts no-separator\n") == []


def test_the_longest_mount_point_above_a_path_wins() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert mount_of("/home/me/proj/app/views.py", mounts) == Mount("/home/me/proj", "nfs4")
    assert mount_of("/home/me/proj/local/x", mounts) == Mount("/home/me/proj/local", "ext4")
    assert mount_of("/home/me/project", mounts) == Mount("/", "ext4")  # a prefix, not a parent
    assert mount_of("/home/me/proj", mounts) == Mount("/home/me/proj", "nfs4")


def test_of_two_mounts_on_one_point_the_last_hides_the_first() -> None:
    assert mount_of("/srv/app", parse_mountinfo(MOUNTINFO)) == Mount("/srv", "virtiofs")


def test_shares_are_polled_and_local_disks_are_not() -> None:
    policy = PollPolicy({}, mountinfo=MOUNTINFO)
    assert policy.reason("/home/me/proj/app") == (
        "its file system is nfs4 (mounted at /home/me/proj)"
    )
    assert policy.reason("/mnt/c/Users/me/code") is not None  # WSL 2
    assert policy.reason("/mnt/my share/x") is not None
    assert policy.reason("/Users/me/code") is not None  # Docker Desktop
    assert policy.reason("/home/me/proj/local/x") is None
    assert policy.reason("/home/me/other") is None
    assert policy.reason("/proc/1") is None


def test_the_list_names_the_shares_the_issue_names() -> None:
    for fs_type in ("nfs", "nfs4", "cifs", "smb3", "9p", "virtiofs", "drvfs", "fuse.grpcfuse"):
        assert fs_type in POLL_FS_TYPES


def test_force_polling_polls_every_root() -> None:
    for value in ("1", "true", "YES", " on "):
        policy = PollPolicy({"RELOADD_FORCE_POLLING": value}, mountinfo=MOUNTINFO)
        assert policy.reason("/home/me/other") == "RELOADD_FORCE_POLLING is set"
    for value in ("", "0", "no"):
        policy = PollPolicy({"RELOADD_FORCE_POLLING": value}, mountinfo=MOUNTINFO)
        assert policy.reason("/home/me/other") is None


def test_more_file_system_types_can_be_named() -> None:
    policy = PollPolicy({"RELOADD_POLL_FS_TYPES": "ext4, fuse.mine"}, mountinfo=MOUNTINFO)
    assert policy.reason("/home/me/other") == "its file system is ext4 (mounted at /)"
    assert policy.reason("/proc/1") is None


def test_folders_can_be_named_whatever_their_file_system(tmp_path: os.PathLike[str]) -> None:
    share = os.path.realpath(tmp_path)
    policy = PollPolicy({"RELOADD_POLL_PATHS": f"{share}:/nowhere"}, mountinfo=MOUNTINFO)
    assert policy.reason(share) is not None
    assert policy.reason(os.path.join(share, "app")) is not None
    assert policy.reason(share + "-sibling") is None
    assert policy.reason("/home/me/other") is None


def test_without_a_mount_table_nothing_needs_polling() -> None:
    assert PollPolicy({}, mountinfo="").reason("/home/me/proj") is None
