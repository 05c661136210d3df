"""``gitrot exec --secret NAME=ENVVAR ... -- CMD ARGS...``: a build step that needs a secret.

Reads the current version of each secret from its backend (``--version`` picks another)
and runs CMD with the values in its environment only: nothing is written to disk, nothing
printed. The intent (``secrets/NAME.yaml`` in the working tree) says which backend and ref;
the ref is opened with the reconciler's identity (``.gitrot/reconciler.key``,
``SOPS_AGE_KEY_FILE``...). What is read must have been written for NAME (a backend
location belongs to one secret): a version another intent wrote there is refused (exit 1).
Exit status: CMD's; 1 for a version written for another secret, 2 for what the backend
refuses (no such version...), 3 when the backend is unreachable; nothing runs then.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from pathlib import Path

from gitrot.core.layout import intent_path
from gitrot.core.ports import PENDING, Backend, BackendError
from gitrot.errors import EnvironmentFailure, InputError, IntegrityError
from gitrot.files import repo, workspace
from gitrot.reconcile.values import open_field
from gitrot.reconcile.wiring import Reconciler


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "exec",
        help="run a command with secrets from their backend in its environment",
        description="Run CMD with each secret's current value (from its backend) in the "
        "environment variable named: gitrot exec --secret payments/db=DB_PASSWORD -- make.",
    )
    parser.add_argument(
        "--secret",
        action="append",
        required=True,
        metavar="NAME=ENVVAR",
        help="a secret and the variable to put it in (repeatable)",
    )
    parser.add_argument("--version", type=int, metavar="N", help="a version other than current")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise InputError("no command to run", hint="gitrot exec --secret NAME=VAR -- CMD ARGS")
    return exec_with_secrets(args.secret, command, version=args.version)


def exec_with_secrets(
    pairs: list[str], command: list[str], *, version: int | None = None, root: str | None = None
) -> int:
    root = root or str(workspace.find_root())
    reconciler = Reconciler.from_config(root, os.environ)
    config = repo.load_config(Path(root))
    env = dict(os.environ)
    for pair in pairs:
        name, sep, variable = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
            raise InputError(
                f"--secret {pair!r} is not NAME=ENVVAR", hint="e.g. payments/db=DB_PASSWORD"
            )
        path = intent_path(name)
        # read once, through the repository's path checks (no symlink out, no FIFO): the
        # model and the ref come from the same text
        text = repo.read_file(root, path)
        intent = repo.parse_intent(text, path)
        ref = open_field(text, path, reconciler.identities, "spec.target.ref")
        backend = reconciler.backend(config, intent.backend)
        try:
            env[variable] = _read(backend, name, ref, version, path)
        finally:
            reconciler.close(backend)
    try:
        return subprocess.run(command, env=env, check=False).returncode
    except FileNotFoundError:
        raise InputError(f"no such command: {command[0]}", hint="check the command") from None


def _read(backend: Backend, name: str, ref: str, version: int | None, path: str) -> str:
    """The value of ``version`` (default: the current one, never a pending one) of ``ref``,
    once its record says it was written for ``name``; backend failures as one clean error line."""
    where = f"backend {backend.name}"
    try:
        newest = backend.current([ref]).get(ref) if version is None else None
        record = newest if version is None else backend.get(ref, version)
        # a pending version (a rotation at the source not promoted) is never handed out:
        # the current one is the newest promoted below it
        while record is not None and version is None and record.stage == PENDING:
            below = range(record.version - 1, 0, -1)
            record = next((r for v in below if (r := backend.get(ref, v)) is not None), None)
        if record is not None and record.name != name:
            raise IntegrityError(
                f"version {record.version} at {name}'s ref was written for another secret "
                f"({record.name}); refusing to hand it over",
                where=path,
                hint="a backend location belongs to one secret: find out who wrote it "
                "(gitrot status, refs/notes/gitrot) and rotate this secret",
            )
        return backend.read(ref, record.version if record else version).reveal()
    except BackendError as exc:
        if exc.unreachable:
            raise EnvironmentFailure(exc.message, where=where) from None
        raise InputError(exc.message, where=where) from None
