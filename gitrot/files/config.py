"""The rules of ``gitrot.yaml`` (docs/architecture.md): strictly parsed map in, :class:`Config` out.

Every error is a :class:`ConfigError` at ``gitrot.yaml:line:col``. Credentials never appear
in the config: a key that names one (``token``, ``password``, ``secret``...) must be a
``*_env`` or ``*_file`` reference, and messages never repeat the literal value.
"""

from __future__ import annotations

import datetime
import re

from gitrot.backends.local import store_path
from gitrot.backends.registry import check_backend
from gitrot.codec.tree import Map, Seq, Value, kind_of, to_plain
from gitrot.core.durations import parse_duration
from gitrot.core.models import (
    API_VERSION,
    DEFAULT_MAX_WAIVER_DAYS,
    AuditSettings,
    BackendConfig,
    Config,
    Freeze,
    RotationClass,
    RotatorConfig,
    TriggerConfig,
    is_valid_name,
)
from gitrot.errors import ConfigError
from gitrot.files.fields import Fields
from gitrot.plugins import entry_points
from gitrot.rotators.registry import check_rotator
from gitrot.triggers.options import OptionError

CONFIG_KIND = "Config"
#: gitrot's own types and those it plans (docs/architecture.md; the reconciler refuses an
#: intent on a planned backend type that is not installed)
BACKEND_TYPES = ("local", "vault", "aws-secrets-manager", "gcp-secret-manager")
TRIGGER_TYPES = ("webhook", "command")
_REQUIRED_OPTIONS = {"local": ("path",), "vault": ("url",), "webhook": ("url",)}
_AGE_RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}|age1[a-z0-9]+1[02-9ac-hj-np-z]{20,}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CREDENTIAL_WORDS = (
    "token",
    "password",
    "passwd",
    "secret",
    "apikey",
    "api_key",
    "private_key",
    "access_key",
    "credential",
    "authorization",
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\[\]-]{0,98}")
_SSH_ED25519 = re.compile(r"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}=?(?: \S.*)?")
_DRIVE = re.compile(r"[A-Za-z]:")


def parse_config_map(root: Map, where: str, *, base: str | None = None) -> Config:
    """The Config of a parsed gitrot.yaml; with ``base`` (the folder it was read from),
    paths in plugin options are also checked on disk (a local store through a committed
    symbolic link)."""
    doc = Fields(root, "", where, ConfigError)
    doc.header(CONFIG_KIND, API_VERSION)
    doc.allow(
        (
            "apiVersion",
            "kind",
            "recipients",
            "backends",
            "triggers",
            "classes",
            "freezes",
            "policy",
            "reconciler",
            "rotators",
            "audit",
        )
    )
    recipients = doc.mapping("recipients")
    for name, recipient in recipients.text_map().items():
        if not _AGE_RECIPIENT.fullmatch(recipient):
            recipients.fail(
                name,
                f"recipients.{name} is not an age recipient (age1...)",
                "print a recipient with `gitrot keygen` or `age-keygen -y KEYFILE`",
            )
    if not recipients.node.entries():
        doc.fail("recipients", "recipients must name at least one age recipient")
    policy = doc.opt_mapping("policy")
    paths: tuple[str, ...] = ("policies/",)
    waivers: str | None = "waivers.yaml"
    owners: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    max_waiver_days = DEFAULT_MAX_WAIVER_DAYS
    if policy is not None:
        policy.allow(("paths", "waivers", "owners", "waiver_approvers", "max_waiver_days"))
        owners = _logins(policy, "owners")
        approvers = _logins(policy, "waiver_approvers")
        if "max_waiver_days" in policy.node:
            max_waiver_days = policy.integer("max_waiver_days", minimum=1, maximum=3660)
        if policy.get("paths", required=False) is not None:
            paths = policy.text_list("paths", unique=True)
            for path in paths:
                _relative(policy, "paths", path)
        if "waivers" in policy.node:
            waivers = policy.opt_text("waivers")
            if waivers is not None:
                _relative(policy, "waivers", waivers)
    return Config(
        recipients=recipients.text_map(),
        backends={
            name: BackendConfig(name, kind, options)
            for name, kind, options in _plugins(doc, "backends", BACKEND_TYPES, base)
        },
        triggers={
            name: TriggerConfig(name, kind, options)
            for name, kind, options in _plugins(doc, "triggers", TRIGGER_TYPES, base)
        },
        rotators=_rotators(doc),
        classes=_classes(doc),
        freezes=_freezes(doc),
        policy_paths=paths,
        waivers_path=waivers,
        owners=owners,
        waiver_approvers=approvers,
        max_waiver_days=max_waiver_days,
        signing_key=_signing_key(doc),
        audit=_audit(doc),
    )


def _audit(doc: Fields) -> AuditSettings:
    """``audit``: ``allowed_signers`` (a path in the repository), ``require_signatures``
    (a boolean, default false) and ``main`` (the branch the ledger follows)."""
    section = doc.opt_mapping("audit")
    if section is None:
        return AuditSettings()
    section.allow(("allowed_signers", "require_signatures", "main"))
    allowed = section.opt_text("allowed_signers")
    if allowed is not None:
        _relative(section, "allowed_signers", allowed)
    main = section.opt_text("main")
    return AuditSettings(
        allowed_signers=allowed,
        require_signatures=section.flag("require_signatures", default=False),
        main=main,
    )


def _logins(policy: Fields, key: str) -> tuple[str, ...]:
    """A list of logins (GitHub/GitLab user names, compared case-insensitively)."""
    if policy.get(key, required=False) is None:
        return ()
    logins = policy.text_list(key, unique=True)
    for login in logins:
        if not _LOGIN.fullmatch(login):
            policy.fail(key, f"{policy.full(key)}: {login!r} is not a login", "write user names")
    return logins


def _signing_key(doc: Fields) -> str | None:
    """``reconciler.signing_key``: the public Ed25519 key that signs refs/gitrot/state."""
    section = doc.opt_mapping("reconciler")
    if section is None:
        return None
    section.allow(("signing_key",))
    key = section.opt_text("signing_key")
    if key is not None and not _SSH_ED25519.fullmatch(key.strip()):
        section.fail(
            "signing_key",
            f"{section.full('signing_key')} is not an Ed25519 public key (ssh-ed25519 AAAA...)",
            "gitrot init writes it; print it again with ssh-keygen -y -f .gitrot/signing.key",
        )
    return key.strip() if key is not None else None


def _plugins(
    doc: Fields, section: str, types: tuple[str, ...], base: str | None = None
) -> list[tuple[str, str, dict[str, object]]]:
    """(name, type, options) of each backend or trigger; options exclude ``type``. Each is
    checked by the check the reconciler makes when it opens it (check_backend,
    check_trigger), its refusal reported at the option's line and column."""
    table = doc.opt_mapping(section)
    if table is None:
        return []
    found = []
    for entry in table.node.entries():
        item = table.mapping(entry.key)
        kind = item.text("type")
        if kind not in types and kind not in _installed(section):
            item.fail(
                "type",
                f"{item.full('type')} {kind!r} is not one of: {', '.join(types)}",
                f"use one of the {section} gitrot knows, or install the package that "
                f"registers {kind!r} (entry-point group gitrot.{section})",
            )
        for option in _REQUIRED_OPTIONS.get(kind, ()):
            item.text(option)
        _no_credentials(item)
        options = {e.key: to_plain(e.value) for e in item.node.entries() if e.key != "type"}
        _check_plugin(item, section, entry.key, kind, options, base)
        found.append((entry.key, kind, options))
    if section == "triggers":
        _no_credential_env(doc, table, found)
    return found


def _check_plugin(  # noqa: PLR0917 - one plugin and where it is
    item: Fields,
    section: str,
    name: str,
    kind: str,
    options: dict[str, object],
    base: str | None,
) -> None:
    """The reconciler's own check of one plugin's options, at the offending option."""
    try:
        if section == "backends":
            check_backend(name, kind, options)
            if kind == "local" and base is not None:
                store_path(name, options, base)
        else:
            from gitrot.triggers.registry import check_trigger

            check_trigger(name, kind, options)
    except OptionError as exc:
        key = exc.option if exc.option and item.node.entry(exc.option) is not None else "type"
        item.fail(key, exc.message, exc.hint)
    except ConfigError as exc:  # a plugin's own check
        item.fail("type", exc.message, exc.hint)


def _no_credential_env(
    doc: Fields, table: Fields, triggers: list[tuple[str, str, dict[str, object]]]
) -> None:
    """A command trigger's ``env`` never names a variable another plugin reads a
    credential from (``secret_env``, ``token_env``...)."""
    credentials: dict[str, str] = {}
    for section in ("backends", "triggers"):
        plugins = doc.node.get(section)
        if not isinstance(plugins, Map):
            continue
        for plugin in plugins.entries():  # each a mapping: _plugins checked them
            assert isinstance(plugin.value, Map)  # noqa: S101
            for option in plugin.value.entries():
                key = option.key.lower().replace("-", "_")
                if key.endswith("_env") and isinstance(option.value, str):
                    credentials.setdefault(option.value, f"{section}.{plugin.key}.{option.key}")
    for name, kind, options in triggers:
        names = options.get("env") if kind == "command" else None
        if not isinstance(names, list):
            continue
        for variable in names:
            if variable in credentials:
                table.mapping(name).fail(
                    "env",
                    f"triggers.{name}.env must not pass {variable} to a command: "
                    f"{credentials[variable]} reads a credential from it",
                    "a command trigger never gets gitrot's credentials; give the consumer "
                    "its own (or use a webhook)",
                )


def _installed(section: str) -> frozenset[str]:
    """The types installed packages register for ``backends`` or ``triggers``."""
    return frozenset(name for _dist, name, _target in entry_points(f"gitrot.{section}"))


def _no_credentials(item: Fields) -> None:
    """Refuse literal credentials; check ``*_env``/``*_file`` references (nested maps too)."""
    for entry in item.node.entries():
        key = entry.key.lower().replace("-", "_")
        if isinstance(entry.value, Map):
            _no_credentials(item.mapping(entry.key))
        elif key.endswith("_env"):
            value = item.text(entry.key)
            if not _ENV_NAME.fullmatch(value):
                item.fail(entry.key, f"{item.full(entry.key)} is not an environment variable name")
        elif key.endswith("_file"):
            item.text(entry.key)
        elif any(word in key for word in _CREDENTIAL_WORDS) and not _empty(entry.value):
            stem = entry.key
            item.fail(
                entry.key,
                f"{item.full(entry.key)} is a credential written into gitrot.yaml",
                f"name an environment variable or a file instead: {stem}_env: NAME or "
                f"{stem}_file: PATH (and rotate the exposed credential)",
            )


#: where a rotator's option that names a credential may come from (docs/rotators.md)
CREDENTIAL_SOURCES = ("env", "file", "secret")


def _rotators(doc: Fields) -> dict[str, RotatorConfig]:
    """``rotators.<name>``: each checked by the check the reconciler makes when it opens it
    (:func:`gitrot.rotators.registry.check_rotator`), at the option's line and column."""
    table = doc.opt_mapping("rotators")
    if table is None:
        return {}
    found = {}
    for entry in table.node.entries():
        item = table.mapping(entry.key)
        kind = item.text("type")
        _no_rotator_credentials(item)
        options = {e.key: to_plain(e.value) for e in item.node.entries() if e.key != "type"}
        try:
            check_rotator(entry.key, kind, options)
        except OptionError as exc:
            key = exc.option if exc.option and item.node.entry(exc.option) is not None else "type"
            item.fail(key, exc.message, exc.hint)
        except ConfigError as exc:  # a rotator's own check
            item.fail("type", exc.message, exc.hint)
        found[entry.key] = RotatorConfig(entry.key, kind, options)
    return found


def _no_rotator_credentials(item: Fields) -> None:
    """A rotator's option that names a credential (``admin_password``) is a reference,
    never a literal: ``{env: NAME}``, ``{file: PATH}``, ``{secret: <gitrot secret>}``, or
    the ``*_env``/``*_file`` keys the other plugins use; nested maps are checked too."""
    for entry in item.node.entries():
        key = entry.key.lower().replace("-", "_")
        credential = any(word in key for word in _CREDENTIAL_WORDS)
        if credential and isinstance(entry.value, Map) and not key.endswith(("_env", "_file")):
            _credential_source(item.mapping(entry.key))
        elif isinstance(entry.value, Map):
            _no_rotator_credentials(item.mapping(entry.key))
        elif key.endswith("_env"):
            value = item.text(entry.key)
            if not _ENV_NAME.fullmatch(value):
                item.fail(entry.key, f"{item.full(entry.key)} is not an environment variable name")
        elif key.endswith("_file"):
            item.text(entry.key)
        elif credential and not _empty(entry.value):
            item.fail(
                entry.key,
                f"{item.full(entry.key)} is a credential written into gitrot.yaml",
                f"name where it comes from instead: {entry.key}: {{env: NAME}}, "
                f"{{file: PATH}} or {{secret: <gitrot secret>}} (and rotate the exposed "
                "credential)",
            )


def _credential_source(source: Fields) -> None:
    """``{env: NAME}``, ``{file: PATH}`` or ``{secret: NAME}``: exactly one of them."""
    source.allow(CREDENTIAL_SOURCES)
    present = [key for key in CREDENTIAL_SOURCES if key in source.node]
    hint = "write one of {env: NAME}, {file: PATH}, {secret: <gitrot secret name>}"
    if len(present) != 1:
        source.fail(
            present[1] if present else "",
            f"{source.path} needs exactly one of env, file, secret",
            hint,
        )
    key = present[0]
    value = source.text(key)
    if key == "env" and not _ENV_NAME.fullmatch(value):
        source.fail(key, f"{source.full(key)} is not an environment variable name", hint)
    if key == "secret" and not is_valid_name(value):
        source.fail(key, f"{source.full(key)} is not a gitrot secret name", hint)


def _empty(value: Value) -> bool:
    return value is None or value == "" or (isinstance(value, (Map, Seq)) and not value.items)


def _relative(item: Fields, key: str, path: str) -> None:
    """A path relative to the repository root that stays inside it (no ``..`` segment)."""
    posix = path.replace("\\", "/")
    if posix.startswith(("/", "~")) or _DRIVE.match(posix) or ".." in posix.split("/"):
        item.fail(
            key,
            f"{item.full(key)} must be a relative path inside the repository, got {path!r}",
            "paths in gitrot.yaml are relative to the repository root, without '..'",
        )


def _classes(doc: Fields) -> dict[str, RotationClass]:
    table = doc.opt_mapping("classes")
    if table is None:
        return {}
    classes = {}
    for entry in table.node.entries():
        item = table.mapping(entry.key) if entry.value is not None else None
        if item is None:
            classes[entry.key] = RotationClass(entry.key)
            continue
        item.allow(("max_age", "min_interval", "source"))
        max_age = _duration(item, "max_age")
        min_interval = _duration(item, "min_interval")
        if max_age == 0:
            item.fail("max_age", f"{item.full('max_age')} must be longer than 0")
        if max_age is not None and min_interval is not None and min_interval > max_age:
            item.fail("min_interval", f"{item.full('min_interval')} is longer than max_age")
        source = item.opt_text("source")
        classes[entry.key] = RotationClass(entry.key, max_age, min_interval, source)
    return classes


def _duration(item: Fields, key: str) -> int | None:
    text = item.opt_text(key)
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        item.fail(key, f"{item.full(key)}: {exc}", "write durations like 90d, 12h, 2w or 1d12h")


def _freezes(doc: Fields) -> tuple[Freeze, ...]:
    if doc.get("freezes", required=False) is None:
        return ()
    seq = doc.node.get("freezes")
    if not isinstance(seq, Seq):
        doc.wrong("freezes", "a list", seq)
    freezes = []
    for index, node in enumerate(doc.seq("freezes")):
        if not isinstance(node, Map):
            doc.wrong("freezes", "a list of mappings", node)
        item = Fields(node, f"freezes[{index}]", doc.where, ConfigError)
        item.allow(("from", "to", "environments", "reason"))
        start, end = _date(item, "from"), _date(item, "to")
        if start > end:
            item.fail("to", f"freezes[{index}] ends ({end}) before it starts ({start})")
        reason = item.opt_text("reason") or ""
        freezes.append(Freeze(start, end, item.text_list("environments", unique=True), reason))
    return tuple(freezes)


def _date(item: Fields, key: str) -> str:
    value = item.get(key)
    hint = 'write dates as quoted strings: "2026-12-20"'
    if not isinstance(value, str):
        item.fail(key, f"{item.full(key)} must be a quoted date string, got {kind_of(value)}", hint)
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        datetime.date.fromisoformat(value)
    except ValueError:
        item.fail(key, f"{item.full(key)} is not a date (YYYY-MM-DD): {value!r}", hint)
    return value
