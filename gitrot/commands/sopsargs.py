"""What the SOPS-compatible commands share: identities, creation rules, selector flags."""

from __future__ import annotations

import os

from gitrot.codec.document import EncryptOptions, Opened, SopsFile, decrypt, detect_format
from gitrot.codec.metadata import SELECTORS
from gitrot.errors import InputError
from gitrot.files.fsutil import read_text
from gitrot.keys.identities import load_identities

#: typing costs ~2 ms at start-up, which `gitrot decrypt FILE` in a build job does not pay;
#: mypy reads this name as True
TYPE_CHECKING = False
if TYPE_CHECKING:  # the plain `gitrot decrypt FILE` of build jobs loads neither
    import argparse
    from pathlib import Path

SELECTOR_FLAGS = SELECTORS  # the same six names, as --dashed-flags


def add_format_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input-type", choices=("yaml", "json", "dotenv", "binary"), default=None)
    parser.add_argument("--output-type", choices=("yaml", "json", "dotenv", "binary"), default=None)


def add_rule_args(parser: argparse.ArgumentParser) -> None:
    """The flags that override a .sops.yaml creation rule, named as sops names them."""
    parser.add_argument(
        "--age",
        action="append",
        default=[],
        metavar="RECIPIENT",
        help="age recipient (repeatable, or comma-separated); overrides .sops.yaml",
    )
    parser.add_argument(
        "--config", default=None, help="path of .sops.yaml (default: search upwards)"
    )
    parser.add_argument(
        "--filename-override",
        default=None,
        help="match creation rules against this path instead of FILE",
    )
    for flag in SELECTOR_FLAGS:
        parser.add_argument("--" + flag.replace("_", "-"), dest=flag, default=None)
    parser.add_argument("--mac-only-encrypted", action="store_true", default=None)
    parser.add_argument("--shamir-threshold", type=int, default=0)


def identities() -> list[object]:
    return load_identities(os.environ, home=os.path.expanduser("~"))


def config_path(explicit: str | Path | None) -> Path | None:
    from pathlib import Path  # encrypting only: decrypt loads no pathlib

    from gitrot.keys import creation_rules as rules

    explicit = explicit or os.environ.get("SOPS_CONFIG") or None
    return rules.find_config(Path.cwd(), explicit=Path(explicit) if explicit else None)


def encrypt_options(args: argparse.Namespace, file_path: str) -> EncryptOptions:
    """Flags first, then the matching creation rule, then sops' defaults
    (docs/sops-format.md 10)."""
    from pathlib import Path  # encrypting only: decrypt loads no pathlib

    from gitrot.keys import creation_rules as rules

    recipients = [r.strip() for value in args.age for r in value.split(",") if r.strip()]
    if not recipients and os.environ.get("SOPS_AGE_RECIPIENTS"):
        recipients = [r.strip() for r in os.environ["SOPS_AGE_RECIPIENTS"].split(",") if r.strip()]
    rule = None
    config = config_path(args.config)
    if config is not None:
        rule_list, _ = rules.load_rules(config)
        target = Path(args.filename_override or file_path)
        if not target.is_absolute():
            target = Path.cwd() / target
        try:
            rule = rules.match_rule(rule_list, target, config.parent)
        except rules.NoMatchingRuleError:
            if not recipients:  # explicit --age needs no rule; sops insists, we do not
                raise
    flags = [(name, getattr(args, name)) for name in SELECTOR_FLAGS if getattr(args, name)]
    if len(flags) > 1:
        raise InputError(
            "cannot use more than one of "
            + ", ".join("--" + f.replace("_", "-") for f in SELECTOR_FLAGS)
        )
    selector = flags[0] if flags else (rule.selector if rule else None)
    mac_only = bool(args.mac_only_encrypted) or bool(rule and rule.mac_only_encrypted)
    if recipients:
        groups, threshold = [recipients], 0
    elif rule is not None:
        groups, threshold = rule.key_groups, rule.shamir_threshold
    else:
        raise InputError(
            "no age recipients to encrypt for",
            where=file_path,
            hint="pass --age RECIPIENT, set SOPS_AGE_RECIPIENTS, or add a creation rule "
            "to .sops.yaml",
        )
    return EncryptOptions(
        groups=groups,
        threshold=args.shamir_threshold or threshold,
        selector=selector,
        mac_only_encrypted=mac_only,
    )


def open_file(path: str, fmt: str | None, *, verify_mac: bool = True) -> Opened:
    """Read and decrypt an encrypted file with the identities sops would find."""
    source = SopsFile.parse(read_text(path), fmt=detect_format(path, fmt), where=path)
    return decrypt(source, identities(), verify_mac=verify_mac)
