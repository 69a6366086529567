"""``reloadd keys``: the CurveZMQ keys of network endpoints (see ``docs/remote.md``).

* ``reloadd keys server``: print the daemon's public key, creating its pair if needed.
* ``reloadd keys new NAME [--dir D]``: create a client's pair (in ``D``, else the
  ``issued`` folder) and allow its public key.
* ``reloadd keys allow FILE``: allow the client whose public certificate ``FILE`` is.
* ``reloadd keys revoke NAME``: allow it no more (from its next connection on).
* ``reloadd keys list``: the allowed clients, by name, with their public keys.

The files are the daemon's (:mod:`reloadd.daemon.keys`), which this command line loads
only when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``keys`` sub-commands."""
    actions = parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    actions.add_parser("server", help="print the daemon's public key (created if missing)")
    new = actions.add_parser("new", help="create a client's key pair and allow it")
    new.add_argument("name", metavar="NAME", help="the client's name, e.g. web or vm1")
    new.add_argument("--dir", type=Path, help="where to write NAME.key and NAME.key_secret")
    allow = actions.add_parser("allow", help="allow a client's public key (its .key file)")
    allow.add_argument("file", type=Path, metavar="FILE")
    revoke = actions.add_parser("revoke", help="allow a client's key no more")
    revoke.add_argument("name", metavar="NAME")
    actions.add_parser("list", help="the allowed client keys")


def keys(args: argparse.Namespace) -> int:
    """Run one ``reloadd keys`` action; errors are raised as ``KeyFileError``."""
    from reloadd.daemon import keys as store  # the command line may load the daemon's modules

    action = args.keys_command
    if action == "server":
        pair = store.server_keys()
        print(pair.public.decode())
        folder = store.config_dir()
        print(f"# in {folder / 'server.key'}: give clients this key or that file", flush=True)
    elif action == "new":
        public, secret = store.new_client(args.name, args.dir)
        print(f"reloadd: created {secret} (give it to the client, keep it secret) and {public};")
        print(f"reloadd: allowed {args.name}: clients with that key may connect now")
    elif action == "allow":
        target = store.allow(args.file)
        print(f"reloadd: allowed {target.stem} ({target})")
    elif action == "revoke":
        target = store.revoke(args.name)
        print(
            f"reloadd: revoked {args.name} (removed {target}); a connection it has now lasts "
            "until it ends: restart the daemon to cut it"
        )
    else:
        allowed, problems = store.allowed_keys(store.clients_dir())
        for key, name in sorted(allowed.items(), key=lambda item: item[1]):
            print(f"{name}\t{key.decode()}")
        for problem in problems:
            print(f"# ignored: {problem}")
        if not allowed:
            print(f"# no client key is allowed in {store.clients_dir()}")
    return 0
