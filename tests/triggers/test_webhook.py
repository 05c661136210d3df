"""The webhook trigger against a real receiver on 127.0.0.1: signature, delivery id, body,
retries with backoff, timeouts, redirects, https and configuration errors."""

from __future__ import annotations

import json
import socket
import time
from typing import TYPE_CHECKING, Any

import pytest

from gitrot.errors import ConfigError
from gitrot.triggers.webhook import WebhookTrigger, encode, sign, verify_signature
from tests.triggers.receiver import HANG_UP, KEY, Answer, Receiver, delivery

if TYPE_CHECKING:
    from pathlib import Path

ENV = {"GITROT_WEBHOOK_SECRET": KEY}


class Waits:
    """The trigger's sleep: records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def webhook(url: str, waits: Waits | None = None, **options: Any) -> WebhookTrigger:
    return WebhookTrigger(
        "payments-api",
        {"url": url, "secret_env": "GITROT_WEBHOOK_SECRET", **options},
        ENV,
        sleep=waits or Waits(),
        clock=lambda: 1_700_000_000.5,
    )


def test_a_delivery_is_signed_and_names_its_delivery_id(receiver: Receiver) -> None:
    receipt = webhook(receiver.url).fire(delivery(3))
    assert receipt.as_dict() == {
        "trigger": "payments-api",
        "delivery_id": delivery(3).delivery_id,
        "ok": True,
        "attempts": 1,
        "detail": "HTTP 200",
        "at": 1_700_000_000,
    }
    [request] = receiver.requests
    assert request.path == "/hooks/rebuild"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("gitrot/")
    assert request.headers["X-Gitrot-Event"] == "rotation"
    assert request.headers["X-Gitrot-Delivery"] == delivery(3).delivery_id
    signature = request.headers["X-Gitrot-Signature-256"]
    assert verify_signature(KEY.encode(), request.body, signature)
    assert not verify_signature(b"another key", request.body, signature)
    assert not verify_signature(KEY.encode(), request.body + b" ", signature)
    assert not verify_signature(KEY.encode(), request.body, signature.replace("sha256=", ""))
    assert json.loads(request.body) == {
        "secret": "payments/db-password",
        "version": 3,
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "delivery": delivery(3).delivery_id,
        "backend": "vault",
        "backend_version": "13",
    }
    assert request.body == encode(delivery(3))
    assert b" " not in request.body  # compact, keys sorted: the same bytes on every run
    assert list(json.loads(request.body)) == sorted(json.loads(request.body))


def test_the_signature_follows_githubs_convention() -> None:
    # the example of GitHub's "Validating webhook deliveries" page
    assert sign(b"It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_a_failing_receiver_gets_the_same_delivery_again(receiver: Receiver) -> None:
    receiver.answer = lambda n: Answer(503 if n < 2 else 200)
    waits = Waits()
    receipt = webhook(receiver.url, waits).fire(delivery())
    assert (receipt.ok, receipt.attempts, receipt.detail) == (True, 3, "HTTP 200")
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1
    assert {r.headers["X-Gitrot-Delivery"] for r in receiver.requests} == {"0" * 31 + "1"}
    assert len({r.headers["X-Gitrot-Signature-256"] for r in receiver.requests}) == 1
    assert len(waits.delays) == 2
    assert 0 <= waits.delays[0] <= 0.5
    assert 0 <= waits.delays[1] <= 1.0


def test_a_receiver_that_keeps_failing_gets_retries_plus_one_attempts(
    receiver: Receiver,
) -> None:
    receiver.answer = lambda n: Answer(500)
    waits = Waits()
    receipt = webhook(receiver.url, waits).fire(delivery())
    assert (receipt.ok, receipt.attempts) == (False, 5)
    assert receipt.detail == "HTTP 500 after 5 attempts"
    assert len(receiver.requests) == 5
    assert len(waits.delays) == 4
    receiver.requests.clear()
    receipt = webhook(receiver.url, retries=0).fire(delivery())
    assert (receipt.ok, receipt.attempts, receipt.detail) == (False, 1, "HTTP 500")
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_a_client_error_is_not_retried(receiver: Receiver, status: int) -> None:
    receiver.answer = lambda n: Answer(status)
    waits = Waits()
    receipt = webhook(receiver.url, waits).fire(delivery())
    assert (receipt.ok, receipt.attempts, receipt.detail) == (False, 1, f"HTTP {status}")
    assert len(receiver.requests) == 1
    assert waits.delays == []


@pytest.mark.parametrize("status", [202, 204])
def test_any_2xx_is_a_delivery(receiver: Receiver, status: int) -> None:
    receiver.answer = lambda n: Answer(status)
    receipt = webhook(receiver.url).fire(delivery())
    assert (receipt.ok, receipt.detail) == (True, f"HTTP {status}")


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.answer = lambda n: Answer(302, headers={"Location": "/elsewhere"})
    receipt = webhook(receiver.url).fire(delivery())
    assert (receipt.ok, receipt.attempts) == (False, 1)
    assert receipt.detail == "HTTP 302 (redirects are not followed)"
    assert [r.path for r in receiver.requests] == ["/hooks/rebuild"]


def test_too_many_requests_waits_as_long_as_the_receiver_asks(receiver: Receiver) -> None:
    answers = [Answer(429, headers={"Retry-After": "7"}),
               Answer(429, headers={"Retry-After": "86400"}),
               Answer(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
               Answer(200)]  # fmt: skip
    receiver.answer = lambda n: answers[n]
    waits = Waits()
    receipt = webhook(receiver.url, waits, backoff=0.25).fire(delivery())
    assert (receipt.ok, receipt.attempts) == (True, 4)
    assert waits.delays[:2] == [7.0, 60.0]  # capped at a minute
    assert 0 <= waits.delays[2] <= 1.0  # an HTTP date is ignored: backoff


def test_a_slow_receiver_times_out_and_is_tried_again(receiver: Receiver) -> None:
    receiver.answer = lambda n: Answer(200, delay=2.0 if n == 0 else 0.0)
    started = time.monotonic()
    receipt = webhook(receiver.url, timeout=0.3).fire(delivery())
    assert time.monotonic() - started < 1.5
    assert (receipt.ok, receipt.attempts, receipt.detail) == (True, 2, "HTTP 200")
    assert len({r.headers["X-Gitrot-Delivery"] for r in receiver.requests}) == 1


def test_a_receiver_that_never_answers_in_time_is_a_timeout(receiver: Receiver) -> None:
    receiver.answer = lambda n: Answer(200, delay=2.0)
    started = time.monotonic()
    receipt = webhook(receiver.url, timeout=0.2, retries=1).fire(delivery())
    assert time.monotonic() - started < 1.5
    assert (receipt.ok, receipt.attempts, receipt.detail) == (False, 2, "timeout after 2 attempts")
    receipt = webhook(receiver.url, timeout=0.2, retries=0).fire(delivery())
    assert (receipt.ok, receipt.detail) == (False, "timeout")


def test_a_receiver_that_fails_every_other_request_gets_every_delivery(
    receiver: Receiver,
) -> None:
    receiver.answer = lambda n: Answer(503 if n % 2 == 0 else 200)
    trigger = webhook(receiver.url)
    receipts = [trigger.fire(delivery(n)) for n in range(1, 6)]
    assert [(r.ok, r.attempts) for r in receipts] == [(True, 2)] * 5
    by_id: dict[str, set[bytes]] = {}
    for request in receiver.requests:
        by_id.setdefault(request.headers["X-Gitrot-Delivery"], set()).add(request.body)
    assert sorted(by_id) == sorted(delivery(n).delivery_id for n in range(1, 6))
    for delivery_id, bodies in by_id.items():
        [body] = bodies  # every attempt of one delivery sent the same bytes
        assert json.loads(body)["delivery"] == delivery_id
    assert len(receiver.requests) == 10


def test_a_receiver_that_hangs_up_is_tried_again(receiver: Receiver) -> None:
    receiver.answer = lambda n: Answer(HANG_UP if n == 0 else 200)
    receipt = webhook(receiver.url).fire(delivery())
    assert (receipt.ok, receipt.attempts) == (True, 2)
    receiver.answer = lambda n: Answer(HANG_UP)
    receipt = webhook(receiver.url, retries=1).fire(delivery())
    assert (receipt.ok, receipt.attempts) == (False, 2)
    assert receipt.detail == "connection failed: RemoteDisconnected after 2 attempts"


def test_a_closed_port_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits = Waits()
    receipt = webhook(f"http://127.0.0.1:{port}/hook", waits, retries=2).fire(delivery())
    assert (receipt.ok, receipt.attempts) == (False, 3)
    assert receipt.detail.startswith("connection failed: ")
    assert receipt.detail.endswith(" after 3 attempts")
    assert len(waits.delays) == 2


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    trigger = WebhookTrigger(
        "hook",
        {"url": "https://ci.example/hook", "secret_env": "GITROT_WEBHOOK_SECRET"},
        ENV,
        jitter=lambda: 1.0,
    )
    assert [trigger.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert trigger.delay(11) == 30.0
    assert trigger.delay(1, retry_after=3.0) == 3.0
    low = WebhookTrigger(
        "hook",
        {"url": "https://ci.example/hook", "secret_env": "GITROT_WEBHOOK_SECRET"},
        ENV,
        jitter=lambda: 0.25,
    )
    assert low.delay(3) == 0.5
    real = webhook("https://ci.example/hook")
    assert all(0 <= real.delay(4) <= 4.0 for _ in range(50))


def test_a_certificate_is_verified(tls_receiver: tuple[Receiver, Path]) -> None:
    receiver, _cert = tls_receiver
    receipt = webhook(receiver.url).fire(delivery())
    assert (receipt.ok, receipt.attempts) == (False, 1)  # not retried: it will not get better
    assert receipt.detail.startswith("TLS: ")
    assert receiver.requests == []


def test_https_to_a_trusted_receiver(
    tls_receiver: tuple[Receiver, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver, cert = tls_receiver
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    receipt = webhook(receiver.url).fire(delivery())
    assert (receipt.ok, receipt.detail) == (True, "HTTP 200")
    [request] = receiver.requests
    assert verify_signature(KEY.encode(), request.body, request.headers["X-Gitrot-Signature-256"])


@pytest.mark.parametrize(
    "url",
    [
        "http://ci.example/hooks/rebuild",
        "http://10.0.0.1/hook",
        "http://127.example/hook",
        "ftp://ci.example/hook",
        "file:///etc/passwd",
        "ci.example/hook",
        "https:///no-host",
        "",
    ],
)
def test_https_is_required_except_for_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match=r"triggers\.payments-api\.url ") as info:
        webhook(url)
    assert info.value.exit_code == 2
    assert "https" in info.value.hint


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://127.1.2.3/hook",
        "http://[::1]:9000/hook",
        "http://localhost/hook",
        "http://LOCALHOST:1/hook",
        "https://ci.example/hooks/rebuild",
    ],
)
def test_plain_http_is_allowed_to_loopback(url: str) -> None:
    assert webhook(url).url == url


@pytest.mark.parametrize(
    "url",
    [
        "https://ci.example/hooks/re build",
        "https://ci.example/hook\r\nX-Injected: 1",
        "https://ci.example/hook\n",
        " https://ci.example/hook",
        "https://ci.example/hook\t",
        "https://ci.example/ho\x00ok",
        "https://ci.example/ho\x7fok",
        "https://ci.example/h\u00f6ok",
    ],
)
def test_a_url_with_spaces_or_control_characters_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"url must not hold spaces, line breaks") as info:
        webhook(url)
    assert "X-Injected" not in info.value.render()
    assert info.value.option == "url"  # type: ignore[attr-defined]


def test_a_backoff_ends_at_once_when_the_reconciler_stops(receiver: Receiver) -> None:
    """gitrot reconcile's signal handler sets STOPPING: a retry waiting out its backoff
    ends now, and no delivery starts."""
    import threading

    from gitrot.triggers.base import STOPPING

    receiver.answer = lambda n: Answer(503)
    trigger = WebhookTrigger(
        "payments-api",
        {"url": receiver.url, "secret_env": "GITROT_WEBHOOK_SECRET", "backoff": "30s"},
        ENV,
        jitter=lambda: 0.99,
    )
    timer = threading.Timer(0.3, STOPPING.set)
    started = time.monotonic()
    timer.start()
    try:
        receipt = trigger.fire(delivery())
        assert time.monotonic() - started < 2
        assert not receipt.ok
        assert receipt.detail.endswith("not retried: the reconciler is stopping")
        assert trigger.fire(delivery()).detail == "not sent: the reconciler is stopping"
    finally:
        timer.cancel()
        STOPPING.clear()


def test_a_url_never_shows_its_path_or_credentials() -> None:
    with pytest.raises(ConfigError) as info:
        webhook("http://hooks.example/services/T000/B000/XXXXSECRETPATH")
    assert "XXXXSECRETPATH" not in info.value.render()
    assert "http://hooks.example" in info.value.message
    with pytest.raises(ConfigError, match="credentials") as info:
        webhook("https://user:hunter2@ci.example/hook")
    assert "hunter2" not in info.value.render() + info.value.hint
    trigger = webhook("https://hooks.example/services/T000/B000/XXXXSECRETPATH")
    assert repr(trigger) == "WebhookTrigger('payments-api', 'https://hooks.example')"
    assert KEY not in repr(trigger)


@pytest.mark.parametrize("environ", [{}, {"GITROT_WEBHOOK_SECRET": ""}])
def test_a_webhook_without_its_key_sends_nothing(
    environ: dict[str, str], receiver: Receiver
) -> None:
    """An unset key is the reconciler's environment, not the file: the trigger opens (the
    run goes on) and each delivery fails without a request, to be retried later."""
    trigger = WebhookTrigger(
        "payments-api",
        {"url": receiver.url, "secret_env": "GITROT_WEBHOOK_SECRET"},
        environ,
    )
    receipt = trigger.fire(delivery())
    assert (receipt.ok, receipt.attempts) == (False, 0)
    assert "GITROT_WEBHOOK_SECRET is not set or empty" in receipt.detail
    assert receiver.requests == []


@pytest.mark.parametrize("secret_env", [None, "", "not a name", 3])
def test_a_webhook_must_name_its_key_variable(secret_env: object) -> None:
    options = {"url": "https://ci.example/hook", "secret_env": secret_env}
    if secret_env is None:
        del options["secret_env"]
    with pytest.raises(ConfigError, match=r"triggers\.hook\.secret_env must name"):
        WebhookTrigger("hook", options, ENV)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"timeout": 0}, r"timeout must be more than 0"),
        ({"timeout": -1}, r"timeout must be more than 0"),
        ({"timeout": "soon"}, r"timeout is not a duration"),
        ({"timeout": True}, r"timeout must be a number"),
        ({"timeout": "2d"}, r"at most 1 day"),
        ({"retries": -1}, r"retries must be a whole number from 0 to 10"),
        ({"retries": 11}, r"retries must be a whole number from 0 to 10"),
        ({"retries": 2.5}, r"retries must be a whole number"),
        ({"backoff": -0.5}, r"backoff must be 0 and at most"),
        ({"secret": "literal"}, r"unknown option 'secret' for a webhook trigger"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        webhook("https://ci.example/hook", **options)


def test_options_take_numbers_and_durations() -> None:
    trigger = webhook("https://ci.example/hook", timeout="1m", retries=0, backoff=0)
    assert (trigger.timeout, trigger.retries, trigger.backoff) == (60.0, 0, 0.0)
    trigger = webhook("https://ci.example/hook", timeout=2.5)
    assert trigger.timeout == 2.5
    default = webhook("https://ci.example/hook")
    assert (default.timeout, default.retries, default.backoff) == (10.0, 4, 0.5)
