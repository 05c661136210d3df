"""``gitrot rotate``: bump an intent's version with a reason; no private key needed.

The edit touches only the lines it must (version, reason, and the emergency flag or the
sealed-value pointer when they change), so the pull request diff is exactly the bump.
The MAC of an intent covers only encrypted values (``mac_only_encrypted``), so the file
stays valid without anyone decrypting it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from gitrot import output
from gitrot.audit.trailers import rotation_message
from gitrot.codec.yaml_edit import Document
from gitrot.commands.due import due_items
from gitrot.core.durations import format_duration, parse_duration
from gitrot.core.layout import relative_to_secrets
from gitrot.core.models import GeneratedValue
from gitrot.core.secret import SecretValue
from gitrot.errors import GitError, InputError
from gitrot.files import intents, repo, workspace
from gitrot.files.fsutil import inside, write_atomic
from gitrot.git.process import run_git

MAX_VALUE_BYTES = 64 * 1024


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "rotate",
        help="bump a secret's version (opens the way for a rotation PR)",
        description="Bump secrets/NAME.yaml to the next version with a reason. With "
        "--value-stdin, the new value (issued by someone else) is read from standard input and "
        "sealed for the repository's recipients in secrets/NAME.v<N>.sealed.yaml; it never "
        "touches disk in clear. With --due, every intent that policy says is due is bumped "
        "and a pull-request body is printed.",
    )
    parser.add_argument("name", nargs="?", default=None)
    parser.add_argument("--reason", required=True, help="why (a ticket, an incident)")
    parser.add_argument(
        "--emergency", action="store_true", help="leak response: bypasses min-interval and freezes"
    )
    parser.add_argument(
        "--value-stdin", action="store_true", help="seal a supplied value read from stdin"
    )
    parser.add_argument("--due", action="store_true", help="rotate every intent that is due")
    parser.add_argument("--within", default="14d", help="with --due: also what is due this soon")
    parser.add_argument(
        "--commit",
        action="store_true",
        help="commit the changed files (and only them) with the reason as the message body "
        "and Gitrot-Secret/Gitrot-Version/Gitrot-Emergency trailers (docs/audit.md)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.due:
        if args.name or args.value_stdin:
            raise InputError("--due rotates every due intent: give no NAME and no --value-stdin")
        return rotate_due(
            reason=args.reason, within=args.within, emergency=args.emergency, commit=args.commit
        )
    if not args.name:
        raise InputError("give the secret NAME to rotate, or --due")
    secret = read_secret(sys.stdin.buffer) if args.value_stdin else None
    return rotate(
        args.name, reason=args.reason, emergency=args.emergency, secret=secret, commit=args.commit
    )


def read_secret(stream: object) -> SecretValue:
    """The supplied value: UTF-8, one trailing newline dropped, never empty; memory only."""
    data: bytes = stream.read(MAX_VALUE_BYTES + 1)  # type: ignore[attr-defined]
    if len(data) > MAX_VALUE_BYTES:
        raise InputError(f"the value on stdin is larger than {MAX_VALUE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the value on stdin is not UTF-8 text") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise InputError(
            "no value on stdin", hint="pipe it in: ... | gitrot rotate NAME --value-stdin"
        )
    return SecretValue(text)


def rotate(
    name: str,
    *,
    reason: str,
    emergency: bool = False,
    secret: SecretValue | None = None,
    root: str | None = None,
    now: datetime | None = None,
    commit: bool = False,
) -> int:
    root = root or workspace.find_root()
    if commit:
        check_work_tree(root)
    old, new = bump(
        root, name, reason=reason, emergency=emergency, secret=secret, now=now or datetime.now(UTC)
    )
    sealed = " (value sealed)" if secret is not None else ""
    output.info(f"gitrot: {name}: version {old} -> {new}{sealed}")
    if commit:
        paths = [intents.intent_path(name)]
        if secret is not None:
            paths.append(intents.sealed_path(name, new))
        commit_rotation(root, paths, reason, [(name, new, emergency)])
    return 0


def check_work_tree(root: str) -> None:
    """``--commit`` needs a git work tree with a commit to build on; InputError before any
    edit otherwise."""
    result = run_git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], cwd=root)
    if result.returncode != 0:
        raise InputError(
            "--commit: the policy repository is not a git work tree with a commit",
            where=root,
            hint="git init and commit the policy repository first, or leave out --commit",
        )


def commit_rotation(
    root: str, paths: list[str], reason: str, rotations: list[tuple[str, int, bool]]
) -> None:
    """``git commit --only -- PATHS`` with the rotation message (docs/audit.md): git's own
    commit, so the user's identity, hooks and signing configuration apply; what the user
    staged elsewhere stays staged and out of the commit."""
    message = rotation_message(reason, rotations)
    for args in (["add", "--", *paths], ["commit", "--quiet", "-F", "-", "--only", "--", *paths]):
        result = run_git(args, cwd=root, input=message.encode() if args[0] == "commit" else None)
        if result.returncode != 0:
            last = (result.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[-1]
            raise GitError(
                f"git {args[0]} failed ({result.returncode}): {last}",
                where=root,
                hint="the intents are bumped but not committed: fix that and run "
                f"git commit -- {' '.join(paths)}",
            )
    head = run_git(["rev-parse", "--short", "HEAD"], cwd=root).stdout.decode().strip()
    output.info(f"gitrot: committed {head}: {message.splitlines()[0]}")


def bump(
    root: str,
    name: str,
    *,
    reason: str,
    emergency: bool,
    secret: SecretValue | None,
    now: datetime,
) -> tuple[int, int]:
    """Edit the intent in place (and seal the value); returns (old, new) version."""
    intents.check_name(name)
    if not reason.strip():
        raise InputError("--reason is empty", hint="say why: a ticket, an incident, a schedule")
    relpath = intents.intent_path(name)
    intent = repo.load_intent(Path(root), relpath)
    if secret is None and not isinstance(intent.value, GeneratedValue):
        raise InputError(
            f"{name}'s value is supplied by a person (sealed): a new version needs a new value",
            where=relpath,
            hint=f"pipe the new credential in: ... | gitrot rotate {name} --reason ... "
            "--value-stdin",
        )
    version = intent.version + 1
    path = inside(root, relpath)
    doc = Document(repo.read_file(root, relpath), where=relpath)
    doc.set(("spec", "version"), version)
    doc.set(("spec", "reason"), reason.strip())
    spec = doc.entry(("spec",)).value
    if spec is not None and "emergency" in spec:  # type: ignore[operator]
        if intent.emergency != emergency:
            doc.set(("spec", "emergency"), emergency)
    elif emergency:
        doc.insert_after(("spec", "reason"), "emergency", True)
    sealed_rel = None
    if secret is not None:
        sealed_rel = intents.sealed_path(name, version)
        options = intents.creation_options(root, sealed_rel)
        text = intents.sealed_text(name, version, secret, options=options, now=now)
        doc.replace_block(("spec", "value"), "sealed", relative_to_secrets(sealed_rel))
        intents.create_file(root, sealed_rel, text)
    try:
        write_atomic(path, doc.text)
    except BaseException:
        if sealed_rel is not None:
            os.unlink(os.path.join(root, sealed_rel))
        raise
    return intent.version, version


def rotate_due(
    *,
    reason: str,
    within: str,
    emergency: bool = False,
    root: str | None = None,
    commit: bool = False,
) -> int:
    """Bump every due intent and print a pull-request body (markdown) on stdout; with
    ``commit``, commit them all in one commit (one set of trailers per secret)."""
    root = root or workspace.find_root()
    if commit:
        check_work_tree(root)
    try:
        window = parse_duration(within)
    except ValueError:
        raise InputError(
            f"--within {within!r} is not a duration", hint="e.g. 14d, 2w, 36h"
        ) from None
    now = int(time.time())
    items = due_items(Path(root), now=now, within=window)
    if not items:
        output.info("gitrot: nothing is due")
        return 0
    rows = []
    rotated: list[tuple[str, int, bool]] = []
    supplied: list[str] = []
    for item in items:
        if not isinstance(repo.load_intent(Path(root), item.path).value, GeneratedValue):
            supplied.append(item.name)  # a person must supply the new value
            continue
        old, new = bump(
            root, item.name, reason=reason, emergency=emergency, secret=None, now=datetime.now(UTC)
        )
        status = (
            f"overdue by {format_duration(-item.due_at + now)}"
            if item.overdue
            else f"due in {format_duration(item.due_at - now)}"
        )
        last = datetime.fromtimestamp(item.last_rotated, UTC).strftime("%Y-%m-%d")
        age, limit = format_duration(item.age), format_duration(item.max_age)
        rows.append(f"| `{item.name}` | {old} → {new} | {last} | {age} | {limit} | {status} |")
        output.info(f"gitrot: {item.name}: version {old} -> {new}")
        rotated.append((item.name, new, emergency))
    for name in supplied:
        output.info(
            f"gitrot: {name} is due but its value is supplied by a person: "
            f"... | gitrot rotate {name} --reason ... --value-stdin"
        )
    if not rows:
        return 0
    if commit:
        paths = [intents.intent_path(name) for name, _, _ in rotated]
        commit_rotation(root, paths, reason, rotated)
    count = len(rows)
    output.data(
        f"## Scheduled credential rotation: {count} secret{'s' if count != 1 else ''}\n\n"
        f"Reason: {reason.strip()}\n\n"
        "| secret | version | last rotated | age | max age | status |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        "After merge, `gitrot reconcile` writes the new versions and fires the rebuilds.\n"
    )
    return 0
