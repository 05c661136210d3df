"""The policy repository's files as models: the one place that reads intents and gitrot.yaml.

Everything a user wrote passes through here once and comes out as a
:mod:`gitrot.core.models` object, or as an :class:`InputError` (:class:`ConfigError` for
``gitrot.yaml``) naming the repo-relative file, the line and the column. The YAML is read
strictly (no anchors, aliases, merge keys or tags); unknown keys are errors, because a typo
in a security file must not pass silently. Nothing is decrypted and nothing is written.
The ``parse_*`` functions take text (or the bytes of a git blob) for callers that read
files from git objects rather than from the work tree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from gitrot.codec.metadata import from_map
from gitrot.codec.tree import Map
from gitrot.codec.walk import Selector
from gitrot.core.layout import (
    CONFIG_FILE,
    ENCRYPTED_VALUE,
    SEALED_PATH,
    SEALED_SUFFIX,
    SECRETS_DIR,
    is_encrypted,
    name_of_path,
    sealed_path,
)
from gitrot.core.models import (
    API_VERSION,
    Config,
    Encryption,
    GeneratedValue,
    RotationIntent,
    SealedValue,
    is_valid_name,
)
from gitrot.errors import ConfigError, InputError
from gitrot.files.config import parse_config_map
from gitrot.files.fields import Fields, decode, fail, parse_root
from gitrot.files.fsutil import inside, read_text

MAX_FILE_BYTES = 1024 * 1024
INTENT_KIND = "RotationIntent"
_NAME_HINT = "names are lowercase letters, digits, '.', '_' and '-', in segments joined by '/'"
_ENC_REF_HINT = (
    "encrypt it: `gitrot encrypt -i FILE`, with a .sops.yaml rule whose encrypted_regex "
    "selects 'ref'"
)


# -- files ----------------------------------------------------------------------------------


def intent_files(root: str | os.PathLike[str]) -> list[str]:
    """Every ``secrets/**/*.yaml`` except ``*.sealed.yaml``: sorted repo-relative posix paths.

    Raises InputError for a symlink that points outside the repository.
    """
    paths, _, errors = _scan(os.fspath(root))
    if errors:
        raise errors[0]
    return paths


def secrets_files(root: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """(:func:`intent_files`, every ``secrets/**/*.sealed.yaml``) in one walk, both sorted
    repo-relative posix paths; raises like :func:`intent_files`."""
    paths, sealed, errors = _scan(os.fspath(root))
    if errors:
        raise errors[0]
    return paths, sealed


def _scan(root: str) -> tuple[list[str], list[str], list[InputError]]:
    top = os.path.join(root, SECRETS_DIR)
    real_root = os.path.realpath(root)
    paths: list[str] = []
    sealed: list[str] = []
    errors: list[InputError] = []
    for folder, dirs, files in os.walk(top):
        rel_folder = os.path.relpath(folder, root).replace(os.sep, "/")
        for name in sorted(dirs):
            full = os.path.join(folder, name)
            if os.path.islink(full) and not _inside(real_root, full):
                errors.append(_outside(f"{rel_folder}/{name}"))
        for name in files:
            if not name.endswith(".yaml"):
                continue
            rel = f"{rel_folder}/{name}"
            if os.path.islink(os.path.join(folder, name)) and not _inside(
                real_root, os.path.join(folder, name)
            ):
                errors.append(_outside(rel))
                continue
            (sealed if name.endswith(SEALED_SUFFIX) else paths).append(rel)
    paths.sort()
    sealed.sort()
    errors.sort(key=lambda exc: exc.where)
    return paths, sealed, errors


def _inside(real_root: str, path: str) -> bool:
    target = os.path.realpath(path)
    return target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep)


def _outside(rel: str) -> InputError:
    return InputError(
        "a symlink that points outside the repository",
        where=rel,
        hint="policy files must live in the repository; replace the link with the file",
    )


def read_file(root: str | os.PathLike[str], rel: str) -> str:
    """The text of the repo-relative file ``rel``: never through a symlink that leaves the
    repository (any folder on the way included), never a FIFO, socket or device, and never
    a symlink itself (see :data:`LINK_HINT`)."""
    return _read(os.fspath(root), rel, InputError)


#: why gitrot's own documents are never symlinks: git stores a link as a blob holding its
#: target path, and the PR check and the reconciler read git objects (gitrot.git.repository)
LINK_MESSAGE = "is a symbolic link: gitrot reads its policy files as regular files only"
LINK_HINT = (
    "git stores the link, not the file it points to, and the PR check and the reconciler "
    "read git: replace the link with the file"
)


def _read(root: str, rel: str, error: type[InputError]) -> str:
    try:
        full = inside(root, rel)
        if os.path.islink(full):
            raise InputError(LINK_MESSAGE, where=rel, hint=LINK_HINT)
        return read_text(full, limit=MAX_FILE_BYTES, where=rel)
    except InputError as exc:
        raise error(exc.message, where=rel, line=exc.line, hint=exc.hint) from None


# -- intents --------------------------------------------------------------------------------


def load_intent(root: str | os.PathLike[str], path: str) -> RotationIntent:
    """Read and check the intent at the repo-relative ``path`` (``secrets/<name>.yaml``)."""
    _intent_name(path)
    return parse_intent(_read(os.fspath(root), path, InputError), path)


def load_intents(root: str | os.PathLike[str]) -> list[RotationIntent]:
    """Every intent of the repository, sorted by path; raises on the first bad file."""
    return [load_intent(root, path) for path in intent_files(root)]


def load_intents_report(
    root: str | os.PathLike[str],
) -> tuple[list[RotationIntent], list[InputError]]:
    """Every good intent and every error (one per bad file), both sorted by path."""
    paths, _, errors = _scan(os.fspath(root))
    intents: list[RotationIntent] = []
    for path in paths:
        try:
            intents.append(load_intent(root, path))
        except InputError as exc:
            errors.append(exc)
    errors.sort(key=lambda exc: exc.where)
    return intents, errors


def _intent_name(path: str) -> str:
    name = name_of_path(path)
    if name is None:
        raise InputError(
            "not a rotation intent path",
            where=path,
            hint=f"intents live at {SECRETS_DIR}/<name>.yaml (repo-relative)",
        )
    if not is_valid_name(name):
        raise InputError(
            f"the file name does not give a valid secret name ({name!r})",
            where=path,
            hint=_NAME_HINT,
        )
    return name


def parse_intent(data: str | bytes, path: str) -> RotationIntent:
    """Check the text (or git blob) of the intent at repo-relative ``path``; build the model."""
    text = decode(data, path, MAX_FILE_BYTES, InputError)
    return intent_from_root(parse_root(text, path, InputError), path)


def intent_from_root(root: Map, path: str) -> RotationIntent:
    """:func:`parse_intent` of an already parsed document (the reconciler also decrypts it)."""
    expected = _intent_name(path)
    doc = Fields(root, "", path, InputError)
    doc.header(INTENT_KIND, API_VERSION)
    doc.allow(("apiVersion", "kind", "metadata", "spec", "sops"))
    encryption = _check_sops(doc, path)
    meta = doc.mapping("metadata")
    meta.allow(("name", "owner", "environment", "class", "labels"))
    name = meta.text("name")
    if not is_valid_name(name):
        meta.fail("name", f"metadata.name {name!r} is not a valid secret name", _NAME_HINT)
    if name != expected:
        meta.fail(
            "name",
            f"metadata.name {name!r} does not match the file path {path}",
            f"rename the file to {SECRETS_DIR}/{name}.yaml or set metadata.name: {expected}",
        )
    labels = meta.opt_mapping("labels")
    spec = doc.mapping("spec")
    spec.allow(
        ("version", "reason", "emergency", "retired", "target", "value", "consumers", "source")
    )
    version = spec.integer("version", minimum=1)
    reason = spec.text("reason")
    target = spec.mapping("target")
    target.allow(("backend", "ref"))
    ref = target.raw_str("ref")
    if not is_encrypted(ref):
        target.fail("ref", "spec.target.ref is not encrypted", _ENC_REF_HINT)
    return RotationIntent(
        name=name,
        owner=meta.text("owner"),
        environment=meta.opt_text("environment"),
        rotation_class=meta.text("class"),
        labels=labels.text_map() if labels else {},
        version=version,
        reason=reason,
        emergency=spec.flag("emergency", default=False),
        retired=spec.flag("retired", default=False),
        backend=target.text("backend"),
        ref=ref,
        value=_value(spec, name, version),
        consumers=spec.text_list("consumers", unique=True),
        path=path,
        lines=_positions(doc),
        encryption=encryption,
        rotator=_rotator(spec),
    )


def _rotator(spec: Fields) -> str | None:
    """``spec.source.rotator``: the rotators.<name> of gitrot.yaml that changes the
    credential at its source (docs/rotators.md); its options live in gitrot.yaml only."""
    source = spec.opt_mapping("source")
    if source is None:
        return None
    source.allow(("rotator",))
    return source.text("rotator")


def _positions(doc: Fields) -> dict[str, tuple[int, int]]:
    """Where each field is: everything outside ``sops``, and ``sops`` with its direct keys
    (rules about recipients point at ``sops.age``)."""
    found = doc.positions(skip=("sops",))
    entry = doc.node.entry("sops")
    if entry is not None:
        found["sops"] = (entry.line, entry.column)
        if isinstance(entry.value, Map):
            for item in entry.value.entries():
                found[f"sops.{item.key}"] = (item.line, item.column)
    return found


def _value(spec: Fields, name: str, version: int) -> GeneratedValue | SealedValue:
    value = spec.mapping("value")
    value.allow(("generate", "sealed"))
    present = [key for key in ("generate", "sealed") if key in value.node]
    if len(present) != 1:
        message = (
            "spec.value has both 'generate' and 'sealed'"
            if present
            else "spec.value needs 'generate' or 'sealed'"
        )
        value.fail(
            present[-1] if present else "",
            message,
            "use generate for a value the reconciler creates, sealed for one a person supplies",
        )
    if present == ["sealed"]:
        expected = sealed_path(name, version)
        relative = expected[len(SECRETS_DIR) + 1 :]
        sealed = value.text("sealed")
        if sealed != relative:
            value.fail(
                "sealed",
                f"spec.value.sealed must be {relative!r} for version {version}, got {sealed!r}",
                "seal the value for this version: gitrot rotate NAME --value-stdin",
            )
        return SealedValue(expected)
    generate = value.mapping("generate")
    generate.allow(("length", "alphabet"))
    length = generate.integer("length", minimum=8, maximum=4096)
    alphabet = generate.opt_text("alphabet")
    try:
        return GeneratedValue(length, alphabet) if alphabet else GeneratedValue(length)
    except ValueError as exc:
        generate.fail("alphabet", f"spec.value.generate.alphabet: {exc}", _ALPHABET_HINT)


_ALPHABET_HINT = "an alphabet lists characters and ranges, e.g. 'A-Za-z0-9-_!#%'"


def _sops_block(doc: Fields, path: str) -> Encryption:
    """The ``sops:`` block of a gitrot document, summarised; InputError when missing."""
    entry = doc.node.entry("sops")
    if entry is None:
        doc.fail(
            "",
            "the file is not a SOPS document (no 'sops' block)",
            "create intents with `gitrot new`, or encrypt this one: gitrot encrypt -i " + path,
        )
    metadata = from_map(entry.value, where=path)
    return Encryption(
        recipients=[r for group in metadata.recipients() for r in group],
        key_groups=len(metadata.groups),
        selector=metadata.selector,
        mac_only_encrypted=metadata.mac_only_encrypted,
        foreign=metadata.foreign,
    )


def _check_sops(doc: Fields, path: str) -> Encryption:
    encryption = _sops_block(doc, path)
    entry = doc.node.entry("sops")
    if entry is not None and not encryption.mac_only_encrypted:
        block = entry.value
        flag = block.entry("mac_only_encrypted") if isinstance(block, Map) else None
        at = flag or entry
        fail(
            InputError,
            "sops.mac_only_encrypted is not true: nobody could bump the version without a key",
            path,
            (at.line, at.column),
            "encrypt intents with mac_only_encrypted: true (in the .sops.yaml rule or "
            "--mac-only-encrypted)",
        )
    return encryption


# -- sealed values ---------------------------------------------------------------------------

SEALED_KIND = "SealedValue"


def parse_sealed(
    data: str | bytes, path: str, recipients: Mapping[str, str] | None = None
) -> tuple[str, int]:
    """Check the text (or git blob) of the sealed value document at ``path``
    (``secrets/<name>.v<N>.sealed.yaml``): its header, that it is for that name and version,
    that ``value`` is encrypted as a string (its ``type:`` tag says so without a key) and
    that its selector encrypts ``value``; with ``recipients`` (gitrot.yaml's, name ->
    age recipient), that each of them can open it, as the reconciler must. (name, version)."""
    match = SEALED_PATH.fullmatch(path)
    if match is None or not is_valid_name(match["name"]):
        raise InputError(
            "a sealed value document is named secrets/<name>.v<N>.sealed.yaml",
            where=path,
            hint=_NAME_HINT,
        )
    text = decode(data, path, MAX_FILE_BYTES, InputError)
    root = parse_root(text, path, InputError)
    doc = Fields(root, "", path, InputError)
    doc.header(SEALED_KIND, API_VERSION)
    doc.allow(("apiVersion", "kind", "metadata", "value", "sops"))
    encryption = _sops_block(doc, path)
    meta = doc.mapping("metadata")
    meta.allow(("name", "version"))
    name, version = meta.text("name"), meta.integer("version", minimum=1)
    if name != match["name"]:
        meta.fail("name", f"metadata.name {name!r} does not match the file name {path}")
    if version != int(match["version"]):
        meta.fail(
            "version",
            f"metadata.version {version} does not match the file name {path}",
            "a sealed document holds the value of the version its name says",
        )
    value = doc.raw_str("value")
    if not is_encrypted(value):
        doc.fail(
            "value",
            "the sealed value is not encrypted",
            "seal values with gitrot rotate NAME --value-stdin; never commit one in clear",
        )
    match_enc = ENCRYPTED_VALUE.match(value)
    if match_enc is not None and match_enc[4] != "str":
        doc.fail(
            "value",
            f"the sealed value is encrypted as {match_enc[4]!r}, not a string: the reconciler "
            "would refuse it",
            "seal values with gitrot rotate NAME --value-stdin (it always seals a string)",
        )
    if not Selector(*encryption.selector).encrypts(["value"], [], False):
        doc.fail("sops", "the sealed document's selector does not encrypt 'value'")
    for who, recipient in sorted((recipients or {}).items()):
        if recipient not in encryption.recipients:
            doc.fail(
                "sops",
                f"recipient {who!r} named in gitrot.yaml cannot open the sealed value: the "
                "reconciler would refuse it",
                "seal it for the repository's recipients: gitrot rotate NAME --value-stdin "
                "(it reads .sops.yaml), or gitrot updatekeys FILE",
            )
    return name, version


# -- gitrot.yaml ----------------------------------------------------------------------------


def load_config(root: str | os.PathLike[str]) -> Config:
    """Read and check ``<root>/gitrot.yaml``; every error is a ConfigError."""
    base = os.fspath(root)
    if not os.path.lexists(os.path.join(base, CONFIG_FILE)):
        raise ConfigError(
            f"no {CONFIG_FILE} in {base}",
            where=CONFIG_FILE,
            hint="run gitrot inside a policy repository, or create one with `gitrot init`",
        )
    text = _read(base, CONFIG_FILE, ConfigError)
    return parse_config_map(parse_root(text, CONFIG_FILE, ConfigError), CONFIG_FILE, base=base)


def parse_config(data: str | bytes, path: str = CONFIG_FILE) -> Config:
    """Check the text (or git blob) of a gitrot.yaml; ``path`` names it in errors."""
    text = decode(data, path, MAX_FILE_BYTES, ConfigError)
    return parse_config_map(parse_root(text, path, ConfigError), path)
