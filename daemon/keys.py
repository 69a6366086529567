"""The daemon's CurveZMQ keys and its allow-list of client keys, in pyzmq's certificate format.

Everything lives in the configuration folder, ``$XDG_CONFIG_HOME/reloadd``
(``~/.config/reloadd`` without it), created 0700:

* ``server.key`` and ``server.key_secret``: the daemon's key pair, created 0600 the first
  time a network endpoint (or ``reloadd keys``) needs it. The ``.key`` file, or the Z85
  public key it holds, is what clients are given.
* ``clients/NAME.key``: the public certificate of each client allowed in. Nothing else
  lets a client in: a key not in this folder is refused.
* ``issued/``: where ``reloadd keys new NAME`` puts a new client's pair unless told
  otherwise (``--dir``).

Files are written and read with :mod:`zmq.auth` (``create_certificates``,
``load_certificate``), so keys made with pyzmq's own tools work too. Every failure is a
:class:`~reloadd.protocol.KeyFileError` whose message says what to do.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

import zmq
import zmq.auth

from reloadd.protocol import KeyFileError
from reloadd.protocol.endpoint import ensure_private_dir

SERVER_NAME = "server"
"""The base name of the daemon's key pair (``server.key``, ``server.key_secret``)."""

CLIENTS_FOLDER = "clients"
"""The allow-list: one ``NAME.key`` public certificate per client let in."""

ISSUED_FOLDER = "issued"
"""Where ``reloadd keys new`` writes a client's pair by default."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class KeyPair:
    """A CurveZMQ key pair as Z85 bytes; its ``repr`` never shows the secret."""

    def __init__(self, public: bytes, secret: bytes) -> None:
        self.public = public
        self.secret = secret

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public.decode()!r}, secret=...)"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/reloadd``, else ``~/.config/reloadd`` (not created here)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "reloadd"


def check_name(name: str) -> str:
    """A client key's name: letters, digits, ``.``, ``_``, ``-`` (1 to 64, a letter or digit first)."""
    if not _NAME.fullmatch(name):
        raise KeyFileError(
            f"{name!r} cannot name a key: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or a digit"
        )
    return name


def private_folder(path: Path) -> Path:
    """Create ``path`` 0700 if missing; refuse one that other users can open or that is not ours."""
    return ensure_private_dir(
        path,
        what="the key folder",
        error=KeyFileError,
        foreign="remove it, or set XDG_CONFIG_HOME to a folder of your own",
    )


def curve_available() -> None:
    """Raise :class:`KeyFileError` if this libzmq cannot do CurveZMQ (built without libsodium)."""
    if not zmq.has("curve"):
        raise KeyFileError(
            f"this libzmq ({zmq.zmq_version()}) was built without CurveZMQ, which network "
            "endpoints require; install a pyzmq wheel (it bundles a libzmq with it)"
        )


def create_pair(folder: Path, name: str) -> tuple[Path, Path]:
    """Write ``NAME.key`` and ``NAME.key_secret`` in ``folder``, both 0600; refuse to overwrite."""
    curve_available()
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    for path in (public, secret):
        if path.exists():
            raise KeyFileError(f"{path} exists already; choose another name or remove it first")
    old_umask = os.umask(0o177)
    try:
        zmq.auth.create_certificates(folder, name)
    except OSError as exc:
        raise KeyFileError(f"cannot write a key pair in {folder}: {exc.strerror}") from exc
    finally:
        os.umask(old_umask)
    for path in (public, secret):
        path.chmod(0o600)
    return public, secret


def load_pair(path: Path) -> KeyPair:
    """The pair in a ``.key_secret`` file; raise if it is unreadable, has no secret, or is unsafe."""
    try:
        info = path.stat()
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot read the key file {path} ({exc})") from exc
    if secret is None:
        raise KeyFileError(f"{path} holds no secret key: give the .key_secret file")
    if info.st_mode & 0o077:
        raise KeyFileError(
            f"the secret key {path} can be read by other users (mode "
            f"{stat.S_IMODE(info.st_mode):o}); run 'chmod 600 {path}'"
        )
    return KeyPair(public, secret)


def load_public(path: Path) -> bytes:
    """The public key in a ``.key`` (or ``.key_secret``) certificate file, as Z85 bytes."""
    try:
        public, _ = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot read the certificate {path} ({exc})") from exc
    if len(public) != 40:
        raise KeyFileError(f"{path} holds no 40-character Z85 public key")
    return public


def server_keys(env: Mapping[str, str] | None = None, *, create: bool = True) -> KeyPair:
    """The daemon's key pair, created (0600, in a 0700 folder) if missing and ``create``."""
    folder = private_folder(config_dir(env))
    secret = folder / f"{SERVER_NAME}.key_secret"
    if not secret.exists():
        if not create:
            raise KeyFileError(f"no server key in {folder}; run 'reloadd keys server'")
        (folder / f"{SERVER_NAME}.key").unlink(missing_ok=True)  # half a pair is no pair
        create_pair(folder, SERVER_NAME)
    return load_pair(secret)


def clients_dir(env: Mapping[str, str] | None = None) -> Path:
    """The allow-list folder (created 0700 if missing)."""
    return private_folder(private_folder(config_dir(env)) / CLIENTS_FOLDER)


def allowed_keys(folder: Path) -> tuple[dict[bytes, str], list[str]]:
    """Public key → client name for every ``*.key`` in ``folder``; and a line per unreadable file."""
    keys: dict[bytes, str] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.key")):
        try:
            keys[load_public(path)] = path.stem
        except KeyFileError as exc:
            problems.append(str(exc))
    return keys, problems


def allow(certificate: Path, env: Mapping[str, str] | None = None) -> Path:
    """Let the client whose public certificate this is in: copy it into the allow-list."""
    load_public(certificate)
    name = check_name(certificate.name.removesuffix(".key_secret").removesuffix(".key"))
    if certificate.name.endswith(".key_secret"):
        raise KeyFileError(
            f"{certificate} is a secret key: give its public {name}.key instead "
            "(the secret stays with the client)"
        )
    target = clients_dir(env) / f"{name}.key"
    if target.exists() and target.read_bytes() != certificate.read_bytes():
        raise KeyFileError(f"a client key named {name} is allowed already; revoke it first")
    shutil.copyfile(certificate, target)
    target.chmod(0o600)
    return target


def revoke(name: str, env: Mapping[str, str] | None = None) -> Path:
    """Remove client ``name`` from the allow-list; a running daemon refuses it from its next
    connection on."""
    target = clients_dir(env) / f"{check_name(name)}.key"
    try:
        target.unlink()
    except FileNotFoundError:
        raise KeyFileError(
            f"no client key named {name} is allowed (see 'reloadd keys list')"
        ) from None
    return target


def new_client(
    name: str, folder: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[Path, Path]:
    """Create client ``name``'s pair in ``folder`` (default ``issued/``) and allow it."""
    check_name(name)
    allowed = clients_dir(env) / f"{name}.key"
    if allowed.exists():
        raise KeyFileError(f"a client key named {name} is allowed already; revoke it first")
    if folder is None:
        target = private_folder(config_dir(env) / ISSUED_FOLDER)
    else:  # the user's own folder: only the secret file itself must be private (0600)
        target = folder
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise KeyFileError(f"cannot create {target}: {exc.strerror}") from exc
    public, secret = create_pair(target, name)
    allow(public, env)
    return public, secret
