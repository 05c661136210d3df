"""``gitrot init [DIR]``: a ready policy repository; running it again changes nothing."""

from __future__ import annotations

import argparse
import os
import re
import shutil
from datetime import UTC, datetime

from gitrot import output
from gitrot.core.layout import CONFIG_FILE, RECONCILER_KEY, SIGNING_KEY, SOPS_CONFIG
from gitrot.errors import InputError
from gitrot.files import resources, workspace
from gitrot.files.fsutil import read_text, write_atomic
from gitrot.git import sshsig
from gitrot.git.repository import ensure_repo
from gitrot.keys import age

KEY_FILE = RECONCILER_KEY  # the reconciler's identity: git-ignored, 0600
SIGNING_KEY_FILE = SIGNING_KEY  # signs refs/gitrot/state: git-ignored, 0600
SCHEMAS = "schemas/"  # the JSON Schemas of gitrot's documents, committed (resources.SCHEMA_DIR)

# Default rotation classes; every limit names the rule it comes from.
CLASSES = """\
classes:
  database-password:
    max_age: 90d
    min_interval: 1d
    source: "PCI DSS v4.0.1 8.3.9: single-factor passwords changed at least every 90 days"
  api-key:
    max_age: 90d
    min_interval: 1d
    source: "CIS AWS Foundations Benchmark v3.0 1.14: rotate access keys every 90 days"
  signing-key:
    max_age: 365d
    min_interval: 7d
    source: "NIST SP 800-57 Pt. 1 Rev. 5, 5.3.6: private signature keys, 1 to 3 years"
  tls-certificate:
    max_age: 200d
    min_interval: 1d
    source: "CA/B Forum TLS BR 6.3.2 (ballot SC-081): at most 200 days from 2026-03-15"
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "init",
        help="scaffold a policy repository",
        description="Make DIR (default: the current directory) a gitrot policy repository: git "
        "init if needed, gitrot.yaml with the local backend and default classes, .sops.yaml, a "
        "reconciler identity and signing key outside git, the pre-commit hook, policies/, "
        "waivers.yaml and the JSON Schemas in schemas/. Existing files are never "
        "overwritten; a gitrot.yaml without reconciler.signing_key gets one added.",
    )
    parser.add_argument("dir", nargs="?", default=".")
    parser.add_argument(
        "--break-glass",
        metavar="RECIPIENT",
        default=None,
        help="an extra age recipient that can always decrypt (kept offline)",
    )
    parser.add_argument(
        "--owner",
        metavar="LOGIN",
        action="append",
        default=[],
        help="a login whose approval a change to the policy needs (policy.owners; repeat)",
    )
    parser.add_argument(
        "--waiver-approver",
        metavar="LOGIN",
        action="append",
        default=[],
        help="a login who may approve waivers (policy.waiver_approvers; repeat)",
    )
    parser.set_defaults(
        run=lambda args: init(
            args.dir,
            break_glass=args.break_glass,
            owners=args.owner,
            waiver_approvers=args.waiver_approver,
        )
    )


def init(
    directory: str,
    *,
    break_glass: str | None,
    owners: list[str] | None = None,
    waiver_approvers: list[str] | None = None,
) -> int:
    if break_glass is not None and not break_glass.startswith("age1"):
        raise InputError(f"--break-glass {break_glass!r} is not an age recipient (age1...)")
    for login in [*(owners or []), *(waiver_approvers or [])]:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\[\]-]{0,98}", login):
            raise InputError(
                f"{login!r} is not a login", hint="give user names, e.g. --owner alice"
            )
    os.makedirs(directory, exist_ok=True)
    created_repo = ensure_repo(directory)
    recipient, created_key = _reconciler_recipient(directory)
    signing, created_signing = _signing_key(directory)
    recipients = [recipient] + ([break_glass] if break_glass else [])
    files = {
        CONFIG_FILE: config_text(
            recipient,
            break_glass,
            signing,
            owners=list(dict.fromkeys(owners or [])),
            waiver_approvers=list(dict.fromkeys(waiver_approvers or [])),
        ),
        SOPS_CONFIG: sops_config_text(recipients),
        ".gitignore": GITIGNORE,
        "waivers.yaml": WAIVERS,
        "policies/README.md": POLICIES_README,
        **_schema_files(),
    }
    changed = [name for name, text in files.items() if _write_new(directory, name, text)]
    hook_files, hook_notes = _pre_commit(directory)
    changed.extend(hook_files)
    if created_repo:
        output.info(f"gitrot: initialised a git repository in {directory}")
    if created_key:
        output.info(f"gitrot: new reconciler identity in {KEY_FILE} (git-ignored, 0600)")
        changed.append(KEY_FILE)
    if created_signing:
        output.info(f"gitrot: new state signing key in {SIGNING_KEY_FILE} (git-ignored, 0600)")
        changed.append(SIGNING_KEY_FILE)
    if CONFIG_FILE not in changed and _add_signing_key(directory, signing):
        output.info(
            "gitrot: added reconciler.signing_key to gitrot.yaml; commit it (through a pull "
            "request) so the reconciler's state can be verified"
        )
        changed.append("gitrot.yaml (reconciler.signing_key)")
    for name in changed:
        output.info(f"gitrot: created {name}")
    if not changed and not created_repo:
        output.info(f"gitrot: {directory} is already a gitrot repository; nothing changed")
    for note in hook_notes:
        output.info(note)
    output.data(recipient + "\n")
    return 0


def _pre_commit(directory: str) -> tuple[list[str], list[str]]:
    """The pre-commit hook, in the ``.pre-commit-config.yaml`` at the top of the git work
    tree (pre-commit reads no other): written when there is none, its files anchored at
    the policy's folder; an existing one is never edited (the hook to add is printed). The
    hook runs ``gitrot`` from PATH (``language: system``), so none is written when gitrot
    is not on PATH: the hook would fail every commit. (what it created, what to tell)"""
    top = workspace.git_top(directory) or os.path.abspath(directory)
    prefix = workspace.top_prefix(directory)
    config = os.path.join(top, PRE_COMMIT_FILE)
    name = os.path.relpath(config, directory)  # named from the policy folder, as the others
    notes: list[str] = []
    if prefix and os.path.lexists(os.path.join(directory, PRE_COMMIT_FILE)):
        notes.append(
            f"gitrot: warning: pre-commit never reads {PRE_COMMIT_FILE} in a subfolder, only "
            f"{name} at the top of the git repository: move its hooks there"
        )
    if shutil.which("gitrot") is None:
        notes.append(
            f"gitrot: gitrot is not on PATH, so no {PRE_COMMIT_FILE} was written (its "
            "language: system hook runs gitrot from PATH and would fail every commit): put "
            "gitrot on PATH and run gitrot init again, or add gitrot's published hooks "
            f"(repo: + rev:, see the README) to {name}"
        )
        return [], notes
    text = pre_commit_text(prefix)
    created = _write_new(top, PRE_COMMIT_FILE, text)
    if not created and "gitrot-validate" not in read_text(config):
        hook = text[text.rindex("      - id: gitrot-validate") :]
        notes.append(
            f"gitrot: {name} has no gitrot-validate hook; add it under repos: (pre-commit "
            f"reads only this file, at the top of the git repository):\n"
            f"  - repo: local\n    hooks:\n{hook.rstrip()}"
        )
    where = os.path.relpath(top)
    notes.append(
        "gitrot: run 'pre-commit install'"
        + ("" if where == "." else f" in {where}")
        + " once per clone, so that the hook checks every commit"
        + ("" if shutil.which("pre-commit") else " (pip install pre-commit first)")
    )
    return ([name] if created else []), notes


def pre_commit_text(prefix: str = "") -> str:
    """The ``.pre-commit-config.yaml`` for a policy repository at ``prefix`` ("" or
    "infra/policy/") in its git work tree."""
    anchored = re.escape(prefix).replace("'", "''")
    return PRE_COMMIT.replace("{prefix}", anchored)


def _schema_files() -> dict[str, str]:
    """The JSON Schemas the documents' ``$schema`` lines point at, by relative path (so
    editors and check-jsonschema need no network): ``schemas/<name>.schema.json``."""
    return {
        f"{SCHEMAS}{name}.schema.json": resources.schema_text(f"{name}.schema.json")
        for name in resources.DOCUMENT_SCHEMAS
    }


def _reconciler_recipient(directory: str) -> tuple[str, bool]:
    """The existing reconciler identity's recipient, or a new identity (created 0600)."""
    path = os.path.join(directory, KEY_FILE)
    if os.path.exists(path):
        identities = age.parse_identities(read_text(path), source=KEY_FILE)
        recipient = age.recipient_of(identities[0]) if identities else None
        if recipient is None:
            raise InputError(
                "holds no age identity", where=path, hint="remove it to make a new one"
            )
        return recipient, False
    identity, recipient = age.generate_identity()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(age.format_key_file(identity, recipient, datetime.now(UTC)))
    return recipient, True


def _signing_key(directory: str) -> tuple[str, bool]:
    """The public half of ``.gitrot/signing.key`` (made 0600 when missing), and whether it
    was made."""
    path = os.path.join(directory, SIGNING_KEY_FILE)
    if os.path.exists(path):
        try:
            with open(path, "rb") as stream:
                return sshsig.public_line(sshsig.load_private(stream.read())), False
        except (OSError, ValueError, TypeError):
            raise InputError(
                "is not an unencrypted Ed25519 OpenSSH private key",
                where=path,
                hint="remove it to make a new one (then commit the new reconciler.signing_key)",
            ) from None
    private, public = sshsig.generate()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private)
    return public, True


def _add_signing_key(directory: str, public: str) -> bool:
    """Add ``reconciler: {signing_key: ...}`` to an existing gitrot.yaml that has no
    ``reconciler`` section (appended: the rest of the file stays as it is). A section with
    another key is left alone, with a warning; anything but a file there is refused."""
    path = os.path.join(directory, CONFIG_FILE)
    text = read_text(path)
    if re.search(r"^reconciler\s*:", text, re.MULTILINE):
        if public.split()[1] not in text:
            output.info(
                "gitrot: warning: gitrot.yaml names another reconciler.signing_key than "
                f"{SIGNING_KEY_FILE}; the state this reconciler signs will not verify "
                f"(print this one with ssh-keygen -y -f {SIGNING_KEY_FILE})"
            )
        return False
    block = "" if text.endswith("\n") or not text else "\n"
    block += f"reconciler:\n  signing_key: {public}\n"
    write_atomic(path, text + block, mode=os.stat(path).st_mode & 0o777)
    return True


def _write_new(directory: str, name: str, text: str) -> bool:
    """Create ``name`` unless it exists (then it is left exactly as it is)."""
    path = os.path.join(directory, name)
    if os.path.lexists(path):
        return False
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_atomic(path, text, mode=0o644)
    return True


def config_text(
    reconciler: str,
    break_glass: str | None,
    signing_key: str | None = None,
    *,
    owners: list[str] | None = None,
    waiver_approvers: list[str] | None = None,
) -> str:
    owners_line = ", ".join(owners or [])
    approvers_line = ", ".join(waiver_approvers or [])
    glass = f"  break-glass: {break_glass}\n" if break_glass else ""
    signer = (
        "# the public key that verifies the reconciler's state (refs/gitrot/state)\n"
        f"reconciler:\n  signing_key: {signing_key}\n"
        if signing_key
        else ""
    )
    return (
        f"# yaml-language-server: $schema={SCHEMAS}config.schema.json\n"
        "apiVersion: gitrot/v1\n"
        "kind: Config\n"
        "# every encrypted document must be readable by these\n"
        "recipients:\n"
        f"  reconciler: {reconciler}\n"
        f"{glass}"
        "backends:\n"
        "  # the embedded default: age-encrypted versions under .gitrot/store, no server\n"
        "  local: {type: local, path: .gitrot/store}\n"
        "triggers: {}\n"
        f"{CLASSES}"
        "freezes: []\n"
        "policy:\n"
        "  paths: [policies/]\n"
        "  waivers: waivers.yaml\n"
        "  # who must approve a change to this policy (gitrot.yaml, .sops.yaml, rules, waivers,\n"
        "  # the scan allowlist), and who may approve a waiver (never its requester)\n"
        f"  owners: [{owners_line}]\n"
        f"  waiver_approvers: [{approvers_line}]\n"
        "  max_waiver_days: 90\n"
        f"{signer}"
    )


def sops_config_text(recipients: list[str]) -> str:
    keys = "".join(f"      - {r}\n" for r in recipients)
    return (
        "# SOPS creation rules, read by gitrot and by sops alike (first match wins).\n"
        "creation_rules:\n"
        "  # a value supplied by a person, sealed for one version: the value is encrypted\n"
        "  - path_regex: ^secrets/.*\\.sealed\\.yaml$\n"
        "    encrypted_regex: ^value$\n"
        f"    age:\n{keys}"
        "  # rotation intents: only where the secret lives is encrypted, and the MAC covers\n"
        "  # only encrypted values, so anyone can bump the version without a private key\n"
        "  - path_regex: ^secrets/.*\\.yaml$\n"
        "    encrypted_regex: ^ref$\n"
        "    mac_only_encrypted: true\n"
        f"    age:\n{keys}"
    )


PRE_COMMIT_FILE = ".pre-commit-config.yaml"

# language: system runs the gitrot on PATH: the one that writes these files, no network.
PRE_COMMIT = """\
# gitrot validates intents, config, policies and waivers before every commit; run
# `pre-commit install` once per clone. This hook runs the gitrot on your PATH (the one
# that writes these files). To have pre-commit install one pinned gitrot for everyone
# instead, replace it with gitrot's published hooks:
#   - repo: <gitrot's repository URL>
#     rev: <a tag or commit>
#     hooks:
#       - id: gitrot-validate
#         files: '^{prefix}(gitrot\\.yaml|waivers\\.yaml|secrets/.*\\.ya?ml|policies/.*\\.ya?ml)$'
repos:
  - repo: local
    hooks:
      - id: gitrot-validate
        name: gitrot validate
        entry: gitrot validate
        language: system
        files: '^{prefix}(gitrot\\.yaml|waivers\\.yaml|secrets/.*\\.ya?ml|policies/.*\\.ya?ml)$'
        require_serial: true  # judges the whole policy at once: one run, no repeated errors
"""

GITIGNORE = """\
# gitrot: the reconciler's identity and the local backend's store never go into git
.gitrot/
"""

WAIVERS = f"""\
# yaml-language-server: $schema={SCHEMAS}waivers.schema.json
# Time-limited, justified exceptions to policy rules.
apiVersion: gitrot/v1
kind: Waivers
waivers: []
"""

POLICIES_README = """\
# Policies

Rules of this organisation, added to gitrot's built-in rule pack. One YAML file per rule
or group of rules; see `gitrot policy test`.
"""
