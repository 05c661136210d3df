"""A FAKE GCP Secret Manager: the documented v1 REST surface the Python client's REST
transport uses, on loopback, for the ``gcp-secret-manager`` backend's tests.

No emulator of Secret Manager exists (PyPI ``gcplocal`` only stubs addVersion), so this
in-tree server keeps the documented rules the backend relies on, and nothing more:

- a secret (``projects/P/secrets/S``) has ``annotations``, ``labels``, ``versionAliases``,
  ``replication`` (required on create) and an ``etag`` that changes on every update;
  ``secrets.create`` of an existing id is 409 ALREADY_EXISTS;
- ``secrets.patch`` needs an ``updateMask`` (400 INVALID_ARGUMENT without one, or with a
  field it cannot update) and, when the body carries an ``etag``, that etag must be the
  stored one, else 409 ABORTED (AIP-154: an etag mismatch is ABORTED); annotations total
  at most 16 KiB, keys of at most 63 characters starting and ending alphanumeric;
- ``secrets.addVersion`` assigns the next version number (1, 2, ...; never reused) in state
  ENABLED; ``versions.list`` returns them newest first;
- ``versions.access`` by number, ``latest`` (the most recently created version, whatever
  its state) or an alias; a DISABLED or DESTROYED version is 400 FAILED_PRECONDITION;
- ``versions.disable``/``enable``/``destroy`` move between ENABLED, DISABLED and DESTROYED
  (destroyed is final: its data is gone, enabling or disabling it is FAILED_PRECONDITION),
  each checking the version's ``etag`` when one is given (409 ABORTED);
- an unknown project is 404 NOT_FOUND; a project in :attr:`FakeSecretManager.denied` is
  403 PERMISSION_DENIED for every call.

Errors are Google's JSON error body (``{"error": {"code", "message", "status"}}``).
:attr:`FakeSecretManager.hooks` lets a test run code (wait on an event, count calls) when a
method is called, before the fake acts on it: how the race tests interleave two writers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_RESOURCE = r"projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/:]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(rf"/v1/{_RESOURCE}/versions/(?P<version>[^/:]+):access"), "access"),
    ("GET", re.compile(rf"/v1/{_RESOURCE}/versions/(?P<version>[^/:]+)"), "get_version"),
    ("GET", re.compile(rf"/v1/{_RESOURCE}/versions"), "list_versions"),
    ("POST", re.compile(rf"/v1/{_RESOURCE}/versions/(?P<version>[^/:]+):disable"), "disable"),
    ("POST", re.compile(rf"/v1/{_RESOURCE}/versions/(?P<version>[^/:]+):enable"), "enable"),
    ("POST", re.compile(rf"/v1/{_RESOURCE}/versions/(?P<version>[^/:]+):destroy"), "destroy"),
    ("POST", re.compile(rf"/v1/{_RESOURCE}:addVersion"), "add_version"),
    ("GET", re.compile(rf"/v1/{_RESOURCE}"), "get_secret"),
    ("PATCH", re.compile(rf"/v1/{_RESOURCE}"), "patch_secret"),
    ("GET", re.compile(r"/v1/projects/(?P<project>[^/]+)/secrets"), "list_secrets"),
    ("POST", re.compile(r"/v1/projects/(?P<project>[^/]+)/secrets"), "create_secret"),
]
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
_PATCHABLE = {"annotations", "labels", "versionAliases", "version_aliases"}
MAX_ANNOTATIONS = 16 * 1024
PROJECT = "proj-gitrot"
_CODES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
}


class ApiError(Exception):
    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status or _CODES[code]


class FakeSecretManager:
    """The state of the fake: ``projects`` it knows, ``denied`` projects (403), secrets
    and their versions; ``calls`` counts each method; ``hooks[method]`` runs first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.projects: set[str] = set()
        self.denied: set[str] = set()
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.calls: dict[str, int] = {}
        self.hooks: dict[str, Callable[[dict[str, str]], None]] = {}
        #: the answer to a stale etag: ABORTED (AIP-154); older APIs said FAILED_PRECONDITION
        self.etag_mismatch = (409, "ABORTED")
        self._tag = 0

    def reset(self) -> None:
        with self.lock:
            self.projects.clear()
            self.denied.clear()
            self.secrets.clear()
            self.versions.clear()
            self.calls.clear()
            self.hooks.clear()
            self.etag_mismatch = (409, "ABORTED")

    # --- what a test inspects -----------------------------------------------------------

    def states(self, project: str, secret: str) -> dict[int, str]:
        """``{version number: state}`` of a secret."""
        with self.lock:
            return {v["number"]: v["state"] for v in self.versions.get((project, secret), [])}

    def data(self, project: str, secret: str, number: int) -> bytes | None:
        with self.lock:
            return self.versions[(project, secret)][number - 1]["data"]  # type: ignore[no-any-return]

    def annotations(self, project: str, secret: str) -> dict[str, str]:
        with self.lock:
            return dict(self.secrets[(project, secret)]["annotations"])

    # --- the API --------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        for verb, pattern, name in _ROUTES:
            match = pattern.fullmatch(path)
            if verb == method and match is not None:
                args = match.groupdict()
                hook = self.hooks.get(name)
                if hook is not None:
                    hook(args)
                with self.lock:
                    self.calls[name] = self.calls.get(name, 0) + 1
                    self._project(args["project"])
                    return getattr(self, "_" + name)(args, query, body)
        raise ApiError(404, f"no method {method} {path}")

    def _project(self, project: str) -> None:
        if project in self.denied:
            raise ApiError(403, f"Permission denied on resource project {project}.")
        if project not in self.projects:
            raise ApiError(404, f"Project {project} not found.")

    def _etag(self) -> str:
        self._tag += 1
        return f'"{self._tag:016d}"'

    def _secret(self, args: dict[str, str]) -> dict[str, Any]:
        found = self.secrets.get((args["project"], args["secret"]))
        if found is None:
            name = f"projects/{args['project']}/secrets/{args['secret']}"
            raise ApiError(404, f"Secret [{name}] not found.")
        return found

    def _version(self, args: dict[str, str]) -> dict[str, Any]:
        secret = self._secret(args)
        versions = self.versions[(args["project"], args["secret"])]
        wanted = args["version"]
        if wanted == "latest":
            number = len(versions)
        elif wanted.isdigit():
            number = int(wanted)
        else:
            number = secret["versionAliases"].get(wanted, 0)
        if not 1 <= number <= len(versions):
            raise ApiError(404, f"Secret Version [{secret['name']}/versions/{wanted}] not found.")
        return versions[number - 1]

    def _list_secrets(self, args: dict[str, str], query: dict[str, str], body: Any) -> Any:
        found = [s for (p, _), s in sorted(self.secrets.items()) if p == args["project"]]
        size = int(query.get("pageSize", "0") or 0) or len(found)
        return {"secrets": [_public_secret(s) for s in found[:size]], "totalSize": len(found)}

    def _create_secret(self, args: dict[str, str], query: dict[str, str], body: Any) -> Any:
        secret_id = query.get("secretId", "")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", secret_id):
            raise ApiError(400, "secret_id is invalid")
        if not isinstance(body, dict) or not body.get("replication"):
            raise ApiError(400, "Secret.replication is required.")
        key = (args["project"], secret_id)
        name = f"projects/{args['project']}/secrets/{secret_id}"
        if key in self.secrets:
            raise ApiError(409, f"Secret [{name}] already exists.", "ALREADY_EXISTS")
        annotations = dict(body.get("annotations") or {})
        _check_annotations(annotations)
        self.secrets[key] = {
            "name": name,
            "replication": body["replication"],
            "createTime": "2024-01-01T00:00:00Z",
            "labels": dict(body.get("labels") or {}),
            "annotations": annotations,
            "versionAliases": {},
            "etag": self._etag(),
        }
        self.versions[key] = []
        return _public_secret(self.secrets[key])

    def _get_secret(self, args: dict[str, str], query: dict[str, str], body: Any) -> Any:
        return _public_secret(self._secret(args))

    def _patch_secret(self, args: dict[str, str], query: dict[str, str], body: Any) -> Any:
        secret = self._secret(args)
        mask = [field for field in query.get("updateMask", "").split(",") if field]
        if not mask:
            raise ApiError(400, "update_mask is required")
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a Secret")
        unknown = [field for field in mask if field not in _PATCHABLE]
        if unknown:
            raise ApiError(400, f"update_mask has a field that cannot be updated: {unknown[0]}")
        etag = body.get("etag")
        if etag and etag != secret["etag"]:
            code, status = self.etag_mismatch
            raise ApiError(code, "The etag provided does not match the secret's etag.", status)
        changed = dict(secret)
        for field in mask:
            stored = "versionAliases" if field == "version_aliases" else field
            changed[stored] = dict(body.get(stored) or body.get(field) or {})
        _check_annotations(changed["annotations"])
        count = len(self.versions[(args["project"], args["secret"])])
        if any(not 1 <= number <= count for number in changed["versionAliases"].values()):
            raise ApiError(400, "a version alias names a version that does not exist")
        changed["etag"] = self._etag()
        secret.update(changed)
        return _public_secret(secret)

    def _add_version(self, args: dict[str, str], query: dict[str, str], body: Any) -> Any:
        secret = self._secret(args)
        payload = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(payload, dict) or "data" not in payload:
            raise ApiError(400, "payload.data is required")
        data = base64.b64decode(payload["data"])
        if len(data) > 64 * 1024:
            raise ApiError(400, "payload is larger than 64 KiB")
        versions = self.versions[(args["project"], args["secret"])]
        number = len(versions) + 1
        version = {
            "name": f"{secret['name']}/versions/{number}",
            "number": number,
            "createTime": "2024-01-01T00:00:00Z",
            "state": "ENABLED",
            "data": data,
            "etag": self._etag(),
        }
        versions.append(version)
        return _public_version(version)

    def _get_version(self, args: dict[str, str], query: dict[str, str], body: Any) -> Any:
        return _public_version(self._version(args))

    def _list_versions(self, args: dict[str, str], query: dict[str, str], body: Any) -> Any:
        self._secret(args)
        versions = self.versions[(args["project"], args["secret"])]
        newest_first = [_public_version(v) for v in reversed(versions)]
        size = int(query.get("pageSize", "0") or 0) or len(newest_first)
        return {"versions": newest_first[:size], "totalSize": len(versions)}

    def _access(self, args: dict[str, str], query: dict[str, str], body: Any) -> Any:
        version = self._version(args)
        if version["state"] != "ENABLED":
            raise ApiError(
                400, f"{version['name']} is in {version['state']} state.", "FAILED_PRECONDITION"
            )
        data = base64.b64encode(version["data"]).decode()
        return {"name": version["name"], "payload": {"data": data}}

    def _disable(self, args: dict[str, str], query: dict[str, str], body: Any) -> Any:
        return self._move(args, body, "DISABLED")

    def _enable(self, args: dict[str, str], query: dict[str, str], body: Any) -> Any:
        return self._move(args, body, "ENABLED")

    def _destroy(self, args: dict[str, str], query: dict[str, str], body: Any) -> Any:
        return self._move(args, body, "DESTROYED")

    def _move(self, args: dict[str, str], body: Any, state: str) -> Any:
        version = self._version(args)
        etag = body.get("etag") if isinstance(body, dict) else None
        if etag and etag != version["etag"]:
            raise ApiError(409, "The etag provided does not match the version's etag.")
        if version["state"] == "DESTROYED":
            raise ApiError(400, f"{version['name']} is in DESTROYED state.", "FAILED_PRECONDITION")
        version["state"] = state
        version["etag"] = self._etag()
        if state == "DESTROYED":
            version["data"] = None
            version["destroyTime"] = "2024-01-01T00:00:01Z"
        return _public_version(version)


def _check_annotations(annotations: dict[str, str]) -> None:
    size = 0
    for key, value in annotations.items():
        if not _ANNOTATION_KEY.fullmatch(key) or not isinstance(value, str):
            raise ApiError(400, "an annotation key is invalid")
        size += len(key.encode()) + len(value.encode())
    if size > MAX_ANNOTATIONS:
        raise ApiError(400, "the annotations are larger than 16 KiB")


def _public_secret(secret: dict[str, Any]) -> dict[str, Any]:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in secret.items()}


def _public_version(version: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in version.items() if k not in ("data", "number")}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go as two writes: no 40 ms delayed ACK

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
            answer = self.server.fake.handle(self.command, parts.path, query, body)
            self._reply(200, answer)
        except ApiError as exc:
            error = {"code": exc.code, "message": str(exc), "status": exc.status}
            self._reply(exc.code, {"error": error})
        except ValueError:
            self._reply(
                400, {"error": {"code": 400, "message": "bad JSON", "status": "INVALID_ARGUMENT"}}
            )

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def _reply(self, code: int, answer: Any) -> None:
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read the fake's state, not its log."""


class _Server(ThreadingHTTPServer):
    """Handler threads are joined when the server closes: a test that runs after the fake's
    module finds no thread of it left (gitrot's CEL budget forks only a single-threaded
    process, so a lingering thread would turn the budget off for later tests)."""

    daemon_threads = False
    block_on_close = True
    fake: FakeSecretManager

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def hang_up(self) -> None:
        """End every kept-alive connection, so that its handler thread returns."""
        with self._open_lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class FakeServer:
    """The fake served on 127.0.0.1 at a free port, in a thread (:meth:`start`/:meth:`stop`)."""

    def __init__(self) -> None:
        self.fake = FakeSecretManager()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self.fake
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.hang_up()
            self._server.server_close()  # joins the handler threads
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._server = None


def serve() -> Iterator[FakeServer]:
    """The body of a module fixture: the fake on a free loopback port, stopped after."""
    server = FakeServer().start()
    try:
        yield server
    finally:
        server.stop()


def fresh(server: FakeServer) -> FakeServer:
    """The body of a test's fixture: the session's fake emptied, knowing :data:`PROJECT`."""
    server.fake.reset()
    server.fake.projects.add(PROJECT)
    return server
