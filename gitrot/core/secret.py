"""A secret value that will not print itself (docs/architecture.md, "Trust boundaries")."""

from __future__ import annotations


class SecretValue:
    """Plaintext held in memory only; ``str()``/``repr()`` show a fingerprint, never the value.

    The one way to the plaintext is :meth:`reveal`, so a value cannot reach a log line, an
    error message or an f-string by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a secret value cannot be empty")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def fingerprint(self) -> str:
        from hashlib import sha256  # hashlib loads OpenSSL (~3 ms); few processes print one

        return "sha256:" + sha256(self._value.encode()).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"SecretValue({self.fingerprint()})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a SecretValue cannot be pickled")
