"""``rotator-shared`` (gitrot/judge/sources.py) over inputs that cannot list or read every
intent: a broken intent names no rotator (its own check says why), an unlisted tree reads
as no other intent."""

from __future__ import annotations

from gitrot.errors import GitrotError, InputError
from gitrot.files import repo
from gitrot.judge.sources import shared_rotators
from tests.intents import intent_text


def sourced(name: str, rotator: str) -> str:
    return intent_text(name, 1).replace(
        "    consumers:\n", f"    source:\n        rotator: {rotator}\n    consumers:\n", 1
    )


class Inputs:
    """The two methods shared_rotators uses, over a dict of files."""

    def __init__(self, files: dict[str, bytes | None], *, listable: bool = True) -> None:
        self.files = files
        self.listable = listable

    def intent_paths(self) -> list[str]:
        if not self.listable:
            raise InputError("secrets/x.yaml is a symbolic link out of the repository")
        return sorted(self.files)

    def read(self, path: str) -> bytes | None:
        data = self.files[path]
        if data == b"refused":
            raise GitrotError("refused")
        return data


def test_only_loadable_intents_claim_a_rotator() -> None:
    judged = repo.parse_intent(sourced("b/app", "ldap"), "secrets/b/app.yaml")
    files: dict[str, bytes | None] = {
        "secrets/a/broken.yaml": b"not: an intent\n",
        "secrets/a/gone.yaml": None,
        "secrets/a/link.yaml": b"refused",
        "secrets/a/plain.yaml": intent_text("a/plain", 1).encode(),
        "secrets/b/app.yaml": sourced("b/app", "ldap").encode(),
    }
    assert shared_rotators([judged], Inputs(files)) == []  # type: ignore[arg-type]
    files["secrets/a/other.yaml"] = sourced("a/other", "ldap").encode()
    (found,) = shared_rotators([judged], Inputs(files))  # type: ignore[arg-type]
    assert (found.rule_id, found.path, found.line) == ("rotator-shared", "secrets/b/app.yaml", 20)
    assert "is the source of secrets/a/other.yaml already" in found.message
    # a tree that cannot be listed: only the judged intents are compared
    assert shared_rotators([judged], Inputs(files, listable=False)) == []  # type: ignore[arg-type]
    assert shared_rotators([], Inputs(files)) == []  # type: ignore[arg-type]
