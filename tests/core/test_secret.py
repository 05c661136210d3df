"""core/secret: a SecretValue never prints, formats, logs or pickles its plaintext."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest

from gitrot.core.secret import SecretValue

PLAIN = "hunter2-Sup3rSecret"


def test_every_way_to_print_shows_the_fingerprint_only(caplog: pytest.LogCaptureFixture) -> None:
    import hashlib

    value = SecretValue(PLAIN)
    expected = "sha256:" + hashlib.sha256(PLAIN.encode()).hexdigest()[:12]
    assert value.fingerprint() == expected
    shown = f"SecretValue({expected})"
    assert repr(value) == str(value) == f"{value}" == f"{value:>40}" == shown
    assert "{}".format(value) == "%s" % value == shown  # noqa: UP031, UP032
    assert repr([value]) == f"[{shown}]"
    with caplog.at_level(logging.INFO):
        logging.getLogger("gitrot.test").info("rotated to %s (%r)", value, value)
    assert PLAIN not in caplog.text and shown in caplog.text
    assert value.reveal() == PLAIN


def test_equal_values_compare_and_hash_equal() -> None:
    assert SecretValue(PLAIN) == SecretValue(PLAIN)
    assert SecretValue(PLAIN) != SecretValue(PLAIN + "x")
    assert SecretValue(PLAIN) != PLAIN  # never equal to its own plaintext
    assert len({SecretValue(PLAIN), SecretValue(PLAIN), SecretValue("other")}) == 2


def test_an_empty_value_is_refused() -> None:
    with pytest.raises(ValueError, match="a secret value cannot be empty"):
        SecretValue("")


def test_a_value_cannot_be_pickled_or_copied_to_disk() -> None:
    value = SecretValue(PLAIN)
    with pytest.raises(TypeError, match="a SecretValue cannot be pickled"):
        pickle.dumps(value)
    with pytest.raises(TypeError, match="cannot be pickled"):
        copy.copy(value)
    with pytest.raises(AttributeError):
        value.extra = 1  # type: ignore[attr-defined]  # __slots__: no __dict__ to leak through
