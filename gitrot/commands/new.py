"""``gitrot new NAME ...``: a rotation intent at version 1, its reference encrypted."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from gitrot import output
from gitrot.core.layout import CONFIG_FILE
from gitrot.errors import InputError
from gitrot.files import intents, repo, workspace


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "new",
        help="create a rotation intent (version 1)",
        description="Write secrets/NAME.yaml at version 1. The reference to where the secret "
        "lives (--ref) is encrypted for the repository's recipients; the value is generated "
        "by the reconciler.",
    )
    parser.add_argument("name")
    parser.add_argument("--backend", required=True, help="a backend named in gitrot.yaml")
    parser.add_argument("--ref", required=True, help="where the secret lives in that backend")
    parser.add_argument("--owner", required=True, help="the team that owns the secret")
    parser.add_argument(
        "--class", dest="rotation_class", required=True, help="a class named in gitrot.yaml"
    )
    parser.add_argument("--environment", default=None)
    parser.add_argument(
        "--consumer", action="append", default=[], help="a trigger to fire (repeatable)"
    )
    parser.add_argument(
        "--rotator",
        default=None,
        help="a rotator in gitrot.yaml that changes the credential at its source "
        "(spec.source.rotator; docs/rotators.md)",
    )
    parser.add_argument("--length", type=int, default=32, help="generated value length")
    parser.add_argument("--alphabet", default="A-Za-z0-9", help="generated value alphabet")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return new(
        args.name,
        backend=args.backend,
        ref=args.ref,
        owner=args.owner,
        rotation_class=args.rotation_class,
        environment=args.environment,
        consumers=args.consumer,
        rotator=args.rotator,
        length=args.length,
        alphabet=args.alphabet,
    )


def new(
    name: str,
    *,
    backend: str,
    ref: str,
    owner: str,
    rotation_class: str,
    environment: str | None,
    consumers: list[str],
    rotator: str | None = None,
    length: int = 32,
    alphabet: str = "A-Za-z0-9",
    root: str | None = None,
) -> int:
    root = root or workspace.find_root()
    intents.check_name(name)
    config = repo.load_config(Path(root))
    _known("backend", backend, config.backends)
    _known("class", rotation_class, config.classes)
    for consumer in consumers:
        _known("consumer", consumer, config.triggers, "a trigger in gitrot.yaml")
    if rotator is not None:
        _known("rotator", rotator, config.rotators)
    if not ref.strip():
        raise InputError("--ref is empty", hint="give where the secret lives in the backend")
    relpath = intents.intent_path(name)
    options = intents.creation_options(root, relpath)
    text = intents.new_intent_text(
        name,
        owner=owner,
        rotation_class=rotation_class,
        backend=backend,
        ref=ref,
        environment=environment,
        consumers=consumers,
        length=length,
        alphabet=alphabet,
        options=options,
        now=datetime.now(UTC),
        rotator=rotator,
    )
    intents.create_file(root, relpath, text)
    try:
        repo.load_intent(Path(root), relpath)  # what we wrote must load, or nothing is kept
    except BaseException:
        os.unlink(os.path.join(root, relpath))
        raise
    output.info(f"gitrot: created {relpath} (version 1)")
    return 0


def _known(what: str, name: str, known: Mapping[str, object], where: str = "") -> None:
    if name not in known:
        names = ", ".join(sorted(known)) or "none"
        raise InputError(
            f"unknown {what} {name!r}",
            where=CONFIG_FILE,
            hint=f"define it as {where or f'a {what} in gitrot.yaml'} first (known: {names})",
        )
