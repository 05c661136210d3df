"""The ``webhook`` trigger: POST a signed JSON notice when a secret has a new version.

The body is compact JSON with sorted keys, never the value::

    {"backend":"vault","backend_version":"7","commit":"<sha>","delivery":"<id>",
     "secret":"payments/db-password","version":3}

Headers: ``X-Gitrot-Delivery`` (the same id on every attempt and every run: receivers
deduplicate on it), ``X-Gitrot-Event: rotation`` and ``X-Gitrot-Signature-256:
sha256=<hex HMAC-SHA256 of the body>`` keyed with the variable ``secret_env`` names (GitHub's
``X-Hub-Signature-256`` convention; receivers check it with :func:`verify_signature`).

A 2xx is a delivery. 5xx and 429 (after their ``Retry-After`` seconds, capped), timeouts and
failed connections are retried up to ``retries`` times with exponential backoff and full
jitter; other statuses are final, and redirects are not followed. https is required, except
for loopback hosts (127.0.0.0/8, ::1, localhost); certificates are verified.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gitrot.core.ports import Delivery
from gitrot.triggers import options as opts
from gitrot.triggers.base import STOPPING, Receipt
from gitrot.version import installed_version

if TYPE_CHECKING:  # the HTTP stack loads when a delivery is sent, not when options are checked
    import urllib.request

OPTIONS = ("backoff", "retries", "secret_env", "timeout", "url")
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 4
DEFAULT_BACKOFF = 0.5
MAX_RETRIES = 10
MAX_BACKOFF = 30.0  # seconds: the cap of one exponential backoff delay
MAX_RETRY_AFTER = 60.0  # seconds: the most a 429's Retry-After makes us wait
RESPONSE_BYTES = 64 * 1024  # read (and discarded) of a response body
SIGNATURE_HEADER = "X-Gitrot-Signature-256"


def sign(key: bytes, body: bytes) -> str:
    """The signature header's value: ``sha256=<hex HMAC-SHA256 of body>``."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(key: bytes, body: bytes, header: str) -> bool:
    """Whether ``header`` (an ``X-Gitrot-Signature-256`` value) signs ``body`` with ``key``;
    constant time in the signature."""
    return hmac.compare_digest(sign(key, body).encode(), header.strip().encode())


def encode(delivery: Delivery) -> bytes:
    """The body of ``delivery``: the exact bytes that are signed and sent."""
    import json

    document = {
        "secret": delivery.name,
        "version": delivery.version,
        "commit": delivery.commit,
        "delivery": delivery.delivery_id,
        "backend": delivery.backend,
        "backend_version": delivery.backend_id,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class WebhookOptions:
    """A webhook trigger's options, checked (:func:`check`)."""

    __slots__ = ("backoff", "loopback", "retries", "secret_env", "timeout", "url")

    def __init__(
        self,
        *,
        url: str,
        loopback: bool,
        secret_env: str,
        timeout: float,
        retries: int,
        backoff: float,
    ) -> None:
        self.url = url
        self.loopback = loopback
        self.secret_env = secret_env
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff


def check(name: str, options: Mapping[str, object]) -> WebhookOptions:
    """The options of ``triggers.<name>`` (type webhook), or an OptionError: the one check
    the loader (``validate``, ``check``) and the reconciler share. Whether ``secret_env``
    is set is the reconciler's environment's business, not the file's (see ``fire``)."""
    opts.allow(name, "webhook", options, OPTIONS)
    url, loopback = _url(name, options.get("url"))
    return WebhookOptions(
        url=url,
        loopback=loopback,
        secret_env=opts.env_name(name, options, "secret_env"),
        timeout=opts.seconds(name, options, "timeout", DEFAULT_TIMEOUT),
        retries=opts.count(name, options, "retries", DEFAULT_RETRIES, maximum=MAX_RETRIES),
        backoff=opts.seconds(name, options, "backoff", DEFAULT_BACKOFF, zero=True),
    )


def _wait(seconds: float) -> None:
    """A backoff wait that ends at once when the reconciler is stopped."""
    STOPPING.wait(seconds)


class WebhookTrigger:
    """``triggers.<name>`` with ``type: webhook``. ``sleep``, ``clock`` and ``jitter`` (a
    number in [0, 1)) are the waits, the time and the randomness: tests pass their own.
    Without its key in the environment (``secret_env`` unset or empty) it opens, but every
    delivery fails with that reason, sending nothing: only its consumers wait, and they
    are told on a later run once the key is set."""

    __slots__ = (
        "_clock",
        "_jitter",
        "_key",
        "_opener",
        "_sleep",
        "backoff",
        "name",
        "retries",
        "secret_env",
        "timeout",
        "url",
    )

    def __init__(
        self,
        name: str,
        options: Mapping[str, object],
        environ: Mapping[str, str],
        *,
        sleep: Callable[[float], None] = _wait,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        checked = check(name, options)
        self.name = name
        self.url = checked.url
        self.secret_env = checked.secret_env
        self._key = environ.get(self.secret_env, "").encode()
        self.timeout = checked.timeout
        self.retries = checked.retries
        self.backoff = checked.backoff
        self._opener = _opener(
            https=self.url.lower().startswith("https:"), loopback=checked.loopback
        )
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter or random.SystemRandom().random

    def fire(self, delivery: Delivery) -> Receipt:
        import urllib.request

        if not self._key:
            return self._failed(
                delivery,
                f"not sent: the environment variable {self.secret_env} is not set or empty "
                "(a webhook is only sent signed)",
            )
        if STOPPING.is_set():
            return self._failed(delivery, "not sent: the reconciler is stopping")
        body = encode(delivery)
        request = urllib.request.Request(  # noqa: S310  # the scheme is checked in _url
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": f"gitrot/{_version()}",
                "X-Gitrot-Delivery": delivery.delivery_id,
                "X-Gitrot-Event": "rotation",
                SIGNATURE_HEADER: sign(self._key, body),
            },
        )
        attempts = 0
        while True:
            at = int(self._clock())
            attempts += 1
            ok, detail, retry, retry_after = self._attempt(request)
            if ok or not retry or attempts > self.retries:
                break
            self._sleep(self.delay(attempts, retry_after))
            if STOPPING.is_set():
                detail = f"{detail}; not retried: the reconciler is stopping"
                break
        if not ok and attempts > 1:
            detail = f"{detail} after {attempts} attempts"
        return Receipt(
            trigger=self.name,
            delivery_id=delivery.delivery_id,
            ok=ok,
            attempts=attempts,
            detail=detail,
            at=at,
        )

    def _failed(self, delivery: Delivery, detail: str) -> Receipt:
        return Receipt(
            trigger=self.name,
            delivery_id=delivery.delivery_id,
            ok=False,
            attempts=0,
            detail=detail,
            at=int(self._clock()),
        )

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): the server's
        Retry-After (capped), else a random share of ``backoff * 2**(attempt-1)`` (capped)."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        return self._jitter() * min(MAX_BACKOFF, self.backoff * 2.0 ** (attempt - 1))

    def _attempt(self, request: urllib.request.Request) -> tuple[bool, str, bool, float | None]:
        """One POST: (ok, detail, worth retrying, Retry-After seconds)."""
        import http.client
        import urllib.error

        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(RESPONSE_BYTES)
                return True, f"HTTP {response.status}", False, None
        except urllib.error.HTTPError as exc:
            exc.close()
            return _status(exc.code, exc.headers.get("Retry-After"))
        except urllib.error.URLError as exc:
            return (*_failure(exc.reason), None)
        except (OSError, http.client.HTTPException) as exc:
            return (*_failure(exc), None)

    def __repr__(self) -> str:
        return f"WebhookTrigger({self.name!r}, {_origin(self.url)!r})"


def _status(code: int, retry_after: str | None) -> tuple[bool, str, bool, float | None]:
    """A non-2xx status: 429 and 5xx are retried (after Retry-After seconds when given;
    an HTTP date there is ignored), others are final."""
    detail = f"HTTP {code}"
    if 300 <= code < 400:
        return False, f"{detail} (redirects are not followed)", False, None
    if code == 429 or code >= 500:
        text = (retry_after or "").strip()
        return False, detail, True, float(text) if text.isascii() and text.isdigit() else None
    return False, detail, False, None


def _failure(reason: object) -> tuple[bool, str, bool]:
    """A request that got no HTTP status: timeouts and connections are retried, a
    certificate that does not verify is not."""
    import ssl

    if isinstance(reason, TimeoutError):
        return False, "timeout", True
    if isinstance(reason, ssl.SSLCertVerificationError):
        return False, f"TLS: {reason.verify_message or 'certificate verify failed'}", False
    if isinstance(reason, OSError) and reason.strerror:
        return False, f"connection failed: {reason.strerror}", True
    text = str(reason) if isinstance(reason, str) else type(reason).__name__
    return False, f"connection failed: {text}", True


def _url(name: str, value: object) -> tuple[str, bool]:
    """The URL and whether its host is loopback; https unless it is."""
    hint = "use an https:// URL (plain http is allowed for 127.0.0.1, ::1 and localhost only)"
    if not isinstance(value, str) or not value:
        raise opts.fail(name, "url", "must be the receiver's URL", hint)
    if any(ch <= " " or ch == "\x7f" or not ch.isascii() for ch in value):
        raise opts.fail(
            name,
            "url",
            "must not hold spaces, line breaks, control or non-ASCII characters",
            "percent-encode them (%20 for a space), or fix the URL",
        )
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  # raises ValueError for a bad port
    except ValueError:
        raise opts.fail(name, "url", "is not a URL", hint) from None
    if parts.username is not None or parts.password is not None:
        raise opts.fail(
            name,
            "url",
            "must not carry credentials (user:password@)",
            "the receiver authenticates gitrot by the signature header; remove the userinfo",
        )
    if parts.scheme not in ("http", "https") or not host:
        raise opts.fail(name, "url", f"must be an https URL, got {_origin(value)!r}", hint)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "http" and not loopback:
        raise opts.fail(name, "url", f"must use https, got {_origin(value)!r}", hint)
    return value, loopback


def _origin(url: str) -> str:
    """``scheme://host:port`` of a URL: its path and query may be a credential (many hook
    URLs are), so messages never show them."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}" if parts.scheme else "?"


def _opener(*, https: bool, loopback: bool) -> urllib.request.OpenerDirector:
    """An opener that does not follow redirects, verifies certificates (the system's CAs,
    or SSL_CERT_FILE) and goes to a loopback host directly (the environment's proxies are
    used for others)."""
    import ssl
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    handlers: list[urllib.request.BaseHandler] = [NoRedirect()]
    if https:
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context()))
    if loopback:
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


@functools.cache
def _version() -> str:
    """gitrot's version for the User-Agent (read from the installed metadata once)."""
    return installed_version()
