"""``gitrot updatekeys FILE``: wrap the data key for the recipients .sops.yaml names now."""

from __future__ import annotations

import argparse
from pathlib import Path

from gitrot import output
from gitrot.codec import document
from gitrot.commands import sopsargs
from gitrot.errors import InputError
from gitrot.files.fsutil import write_atomic
from gitrot.keys import creation_rules as rules


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "updatekeys",
        help="re-wrap the data key for the recipients of the matching creation rule",
        description="Make FILE readable by exactly the recipients of its .sops.yaml creation "
        "rule: the data key and every value stay the same; only the sops metadata changes.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--input-type", choices=("yaml", "json", "dotenv", "binary"), default=None)
    parser.set_defaults(run=lambda args: updatekeys(args.files, args.config, args.input_type))


def updatekeys(paths: list[str], config: Path | None, fmt: str | None) -> int:
    config_file = sopsargs.config_path(config)
    if config_file is None:
        raise InputError(
            "no .sops.yaml found", hint="updatekeys needs creation rules; pass --config PATH"
        )
    rule_list, _ = rules.load_rules(config_file)
    for path in paths:
        rule = rules.match_rule(rule_list, Path(path).absolute(), config_file.parent)
        opened = sopsargs.open_file(path, fmt)
        meta = opened.source.metadata
        options = document.EncryptOptions(
            groups=rule.key_groups,
            threshold=rule.shamir_threshold,
            selector=meta.selector,
            mac_only_encrypted=meta.mac_only_encrypted,
        )
        before = {r for group in meta.recipients() for r in group}
        after = {r for group in options.groups for r in group}
        if meta.recipients() == options.groups and (
            len(options.groups) == 1
            or meta.threshold == (rule.shamir_threshold or len(options.groups))
        ):
            output.info(f"gitrot: {path}: already up to date")
            continue
        write_atomic(path, document.rewrap(opened, options, fmt=opened.source.fmt))
        for recipient in sorted(after - before):
            output.info(f"gitrot: {path}: + {recipient}")
        for recipient in sorted(before - after):
            output.info(f"gitrot: {path}: - {recipient}")
        output.info(f"gitrot: {path}: keys updated")
    return 0
