"""What the numbers were measured on: hardware, kernel and the versions that matter."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "reloadd",
    "Django",
    "watchfiles",
    "pywatchman",
    "pyzmq",
    "msgpack",
    "uvicorn",
    "fastapi",
    "Flask",
    "selenium",
    "django-browser-reload",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _watchman_version() -> str:
    try:
        return subprocess.run(
            ["watchman", "--version"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not found"


def _chromium_version() -> str:
    """Chromium's version (the browser of ``--only browser``), or "not found"."""
    from bench.chromium import BROWSERS

    for candidate in BROWSERS:
        try:
            return subprocess.run(
                [candidate, "--version"], capture_output=True, text=True, check=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
    return "Chromium not found"


def load() -> str:
    """The load averages (1, 5, 15 minutes): other work on the machine skews the numbers."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def describe() -> list[str]:
    """One line per fact."""
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return [
        f"machine: {os.cpu_count()} cores ({_cpu_model()}), {_memory()} RAM, "
        f"Linux {platform.release()}",
        f"Python {sys.version.split()[0]}, Watchman {_watchman_version()}, " + ", ".join(versions),
        _chromium_version(),
    ]
