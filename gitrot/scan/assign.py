"""Values assigned to a name that says secret, and passwords in connection strings.

The forms read (group ``key`` names the secret, the value is what is reported):

- assignments ``key = v``, ``key: v``, ``key := v``, ``key ::= v``, ``key :::= v``,
  ``key ?= v``, ``key .= v``, ``key += v``, ``key => v``, comparisons ``key == v``,
  ``===``, ``!=``, typed declarations (``var token string = "v"``, ``const secret:
  string = 'v'``, ``val password: String = "v"``), subscripts (``os.environ["API_KEY"] =
  "v"``), with double, single or backtick quotes;
- calls: a setter with one literal (``setPassword("v")``), a quoted name then a literal
  (``System.setProperty("X_TOKEN", "v")``, ``define('DB_PASSWORD', 'v')``,
  ``put("password", "v")``);
- XML: ``<password>v</password>``, ``<add key="DbPassword" value="v"/>``;
- ``.netrc`` (``machine h login u password v``), space-separated directives in config
  files (``requirepass v``, ``bindpw v``, ``rootpw v``), command-line flags
  (``--password=v``, ``--requirepass v``, ``mysql -pv``);
- connection strings: ``scheme://user:password@host`` anywhere, JDBC ``?password=``,
  ADO.NET ``Password=...;``/``Pwd=...;`` and Azure ``AccountKey=``/``SharedAccessKey=``
  parameters.

Regexes run only on the lines a cheap keyword search finds. A random value (see
:func:`gitrot.scan.values.looks_random`) is a ``high-entropy-secret`` under any secret
name; a clear value under a password name is a ``plaintext-password`` in config files, and
in code, scripts and XML when it has a password's shape (:func:`values.password_shape`).
"""

from __future__ import annotations

import re

from gitrot.scan import values
from gitrot.scan.formats import Lazy

Found = list[tuple[int, int, str, str, str]]


CONFIG, CODE, OTHER, DOCS = "config", "code", "other", "docs"

_KW = r"(?i:pass|pwd|pw|secret|token|api[_-]?key|private[_-]?key|credential|auth)"
_QUOTED = r"(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)'|`(?P<bq>[^`\n]*)`)"
_TYPES = r"(?:string|String|str|&(?:'static[ \t]+)?str|char[ \t]*\*|CharSequence|SecureString)"
_ASSIGNMENT = Lazy(
    r"(?<![\w.\-/])(?P<key>[A-Za-z0-9_.-]*?" + _KW + r"[A-Za-z0-9_.-]*)\\?[\"'`]?\]?"
    r"(?:(?:[ \t]*:[ \t]*|[ \t]+)" + _TYPES + r"[?!]?[ \t]*=(?![=>~])"
    r"|[ \t]*(?::::=|::=|:=|\?=|\.=|\+=|=>|===|!==|==|!=|=|:))[ \t]*"
    r"(?:[bBrRuUfF]{1,2}(?=[\"']))?(?:"
    + _QUOTED
    + r"|\\\"(?P<eq>[^\"\\\n]*)\\\"|(?P<bare>[^\s\"'`\\][^\n]*))",
)
_CSV = Lazy(
    r"(?m)^[\"']?(?P<key>[A-Za-z0-9_.-]*?" + _KW + r"[A-Za-z0-9_.-]*)[\"']?[,\t][ \t]*"
    r"[\"']?(?P<bare>[^,\t\n\"']+)",
)
_BLOCK = Lazy(r"[|>][-+0-9]*")
_SETTER = Lazy(
    r"(?<![\w$])(?P<key>[A-Za-z_][\w.]*?(?i:set|with|put)_?[A-Za-z0-9_]*?" + _KW + r"\w*)"
    r"[ \t]*\([ \t]*" + _QUOTED + r"[ \t]*\)",
)
_PAIR = Lazy(
    r"(?<=[\w$])\([ \t]*[\"'](?P<key>[\w.-]*?" + _KW + r"[\w.-]*)[\"'][ \t]*,[ \t]*" + _QUOTED,
)
_XML = Lazy(
    r"<(?P<key>[\w.:-]*?" + _KW + r"[\w.:-]*)(?:[ \t][^<>\n]*)?>[ \t]*\r?\n?[ \t]*"
    r"(?P<xml>[^<>\s](?:[^<>\n]*[^<>\s])?)\s*</(?P=key)>",
)
_XML_ATTR = Lazy(
    r"\b(?:key|name)[ \t]*=[ \t]*\"(?P<key>[^\"\n]*?" + _KW + r"[^\"\n]*)\"[ \t]+"
    r"value[ \t]*=[ \t]*\"(?P<dq>[^\"\n]*)\"",
)
_NETRC = Lazy(
    r"\bmachine[ \t]+\S+(?:[ \t]+(?:login|account|port)[ \t]+\S+)*[ \t]+(?P<key>password)"
    r"[ \t]+(?P<bare>\S+)"
)
_NETRC_LINE = Lazy(r"(?m)^[ \t]*(?P<key>password)[ \t]+(?P<bare>\S+)")
_DIRECTIVE = Lazy(
    r"(?m)^[ \t]*(?P<key>requirepass|masterauth|bindpw|bind_pw|rootpw|passwd|password)"
    r"[ \t]+(?P<bare>[^\s#;=:]\S*)[ \t]*$"
)
_FLAG = Lazy(
    r"(?<![\w-])--(?P<key>requirepass|masterauth|(?:[a-z]+-)*(?:password|passwd|token|secret"
    r"|api-key))(?:=|[ \t]+)(?:" + _QUOTED + r"|(?P<bare>[^\s\"'`\\;|&)(-][^\s\"'`\\;|&)]*))"
)
_MYSQL_P = Lazy(
    r"\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]*?[ \t]-p(?P<bare>[^\s\"'`;|&)-]"
    r"[^\s\"'`;|&)]*)"
)
# the words of _KW, found with str.find in the lower-cased text (a regex is ~10x slower)
_KEYWORDS = (
    "pw",
    "pass",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "privatekey",
    "private_key",
    "private-key",
    "credential",
    "auth",
)
_CONN_WORDS = ("password", "pwd", "accountkey", "sharedaccesskey")

_URI = Lazy(
    r"(?<![\w+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{1,20})://(?P<user>[^\s:/@\"'`<>]{0,128})"
    r":(?P<s>[^\s/@\"'`<>,]{1,256})@(?P<host>[\w-][\w.-]*|\[[0-9A-Fa-f:.]+\])"
)
# RFC 2606 / RFC 6761 names reserved for documentation and tests
_DOC_HOST = Lazy(r"(?:^|\.)(?:example(?:\.com|\.org|\.net)?|test|invalid)$", re.IGNORECASE)
_CONN_PARAM = Lazy(
    r"(?:[?&]|;[ \t]*|\b(?i:jdbc|odbc):[^\n]*?[ \t])"
    r"(?P<key>(?i:password|pwd|AccountKey|SharedAccessKey))[ \t]*=[ \t]*"
    r"(?P<bare>[^;&\s\"'`]+)",
)

_KEY_SPLIT = Lazy(r"[_.\-:]+")
_PASSWORD_WORDS = frozenset(("password", "passwd", "passphrase", "pwd", "pass", "pw", "passwords"))
_SECRET_WORDS = _PASSWORD_WORDS | frozenset(
    (
        "secret",
        "secrets",
        "token",
        "tokens",
        "apikey",
        "credential",
        "credentials",
        "auth",
        "privatekey",
        "secretkey",
        "bindpw",
        "rootpw",
        "requirepass",
        "masterauth",
    )
)
_GLUED_WORDS = ("password", "passwd", "passphrase", "secret", "token", "apikey", "credentials")
_SECRET_PAIRS = frozenset((("api", "key"), ("private", "key")))
# a name with one of these after its secret word names something about a secret
_NOT_SECRET_PARTS = frozenset(
    [
        "file",
        "files",
        "path",
        "paths",
        "dir",
        "env",
        "var",
        "vars",
        "name",
        "names",
        "id",
        "ids",
        "url",
        "uri",
        "urls",
        "endpoint",
        "host",
        "port",
        "user",
        "username",
        "login",
        "length",
        "len",
        "size",
        "type",
        "types",
        "kind",
        "cmd",
        "command",
        "regex",
        "pattern",
        "suffix",
        "prefix",
        "format",
        "field",
        "fields",
        "ref",
        "refs",
        "version",
        "header",
        "mode",
        "method",
        "enabled",
        "required",
        "policy",
        "policies",
        "rule",
        "rules",
        "class",
        "count",
        "max",
        "min",
        "ttl",
        "expiry",
        "expires",
        "expiration",
        "timeout",
        "fingerprint",
        "sha",
        "sha1",
        "sha256",
        "sha512",
        "md5",
        "digest",
        "checksum",
        "hash",
        "hashed",
        "hashes",
        "provider",
        "store",
        "backend",
        "source",
        "label",
        "description",
        "help",
        "hint",
        "message",
        "arn",
        "location",
        "question",
        "reset",
        "forgot",
        "confirm",
        "confirmation",
        "placeholder",
        "title",
        "text",
        "prompt",
        "error",
        "errors",
        "hint",
        "strength",
        "reuse",
        "rotation",
        "age",
        "lifetime",
        "salt",
        "algorithm",
        "algo",
        "iterations",
        "input",
        "button",
        "link",
    ]
)
_AWS_SECRET = Lazy(r"[A-Za-z0-9/+]{40}")
_DOC_SUFFIXES = (".md", ".markdown", ".rst", ".txt", ".adoc", ".html", ".htm")


def assignments(
    text: str, kind: str, path: str, taken: list[tuple[int, int]], found: Found
) -> None:
    """Every secret-named value in ``text`` (see the module docstring)."""
    loose = DOCS if kind == DOCS else CODE  # literals after a flag: judged as in code
    low = text.lower()
    for start, end in values.lines_with(low, _KEYWORDS):
        line = low[start:end]
        for match in _ASSIGNMENT.get().finditer(text, start, end):
            _judge(match, kind, taken, found)
        if "(" in line:
            if ("set" in line or "with" in line or "put" in line) and _quote(line):
                for match in _SETTER.get().finditer(text, start, end):
                    _judge(match, kind, taken, found)
            if "('" in line or '("' in line or "( " in line:
                for match in _PAIR.get().finditer(text, start, end):
                    _judge(match, kind, taken, found)
        if "value" in line and ("key" in line or "name" in line):
            for match in _XML_ATTR.get().finditer(text, start, end):
                _judge(match, kind, taken, found)
        if "--" in line and kind != CODE:
            for match in _FLAG.get().finditer(text, start, end):
                _judge(match, loose, taken, found, origin="command line")
    if "</" in text and kind != DOCS:
        for match in _XML.get().finditer(text):
            _judge(match, loose, taken, found, origin="XML")
    if path.lower().endswith((".csv", ".tsv")):
        for match in _CSV.get().finditer(text):
            _judge(match, loose, taken, found)
    if kind == CONFIG or path.endswith("netrc"):
        patterns = [_DIRECTIVE]
        if path.replace("\\", "/").rsplit("/", 1)[-1] in (".netrc", "_netrc", "netrc"):
            patterns.append(_NETRC_LINE)
        for pattern in patterns:
            for match in pattern.get().finditer(text):
                _judge(match, CODE, taken, found)
    if "machine" in text and "password" in text:
        for match in _NETRC.get().finditer(text):
            _judge(match, loose, taken, found, origin=".netrc")
    if kind != CODE and ("mysql" in low or "mariadb" in low) and " -p" in text:
        for match in _MYSQL_P.get().finditer(text):
            _judge(match, loose, taken, found, origin="command line", key="mysql -p")


def connections(text: str, kind: str, taken: list[tuple[int, int]], found: Found) -> None:
    """Passwords in ``scheme://user:password@host`` and ``password=`` connection parameters
    (a famous example password, ``hunter2``, only in config files)."""
    if "://" in text and "@" in text:
        for start, end in values.lines_with(text, ("://",), "@"):
            for match in _URI.get().finditer(text, start, end):
                secret = match.group("s")
                if secret == match.group("user") or _DOC_HOST.get().search(match.group("host")):
                    continue  # postgres://sops:sops@..., user:pw@db.example.com: documentation
                if _doc_password(secret, kind) or _overlaps(
                    taken, match.start("s"), match.end("s")
                ):
                    continue
                scheme = match.group("scheme").lower()
                description = f"password in a connection string ({scheme}://)"
                _add(found, taken, match.start("s"), secret, "connection-string", description)
    low = text.lower()
    if not any(word in low for word in ("pwd", "password", "accesskey", "accountkey")):
        return
    for start, end in values.lines_with(low, _CONN_WORDS):
        for match in _CONN_PARAM.get().finditer(text, start, end):
            secret = match.group("bare")
            if _doc_password(secret, kind) or _overlaps(
                taken, match.start("bare"), match.end("bare")
            ):
                continue
            description = f"password in a connection string ({match.group('key')}=)"
            _add(found, taken, match.start("bare"), secret, "connection-string", description)


def _doc_password(secret: str, kind: str) -> bool:
    bare = secret.strip("<>[]{}")
    return (
        (bare.lower() in values.DOC_PASSWORDS if kind == CONFIG else values.doc_password(bare))
        or values.not_a_secret(secret, quoted=True)
        or secret.startswith("%")
    )


def _in_ciphertext(match: re.Match[str]) -> bool:
    """Whether ``match`` starts inside a sops ``ENC[...]`` value on its line."""
    text, pos = match.string, match.start()
    line_start = text.rfind("\n", 0, pos) + 1
    opened = text.rfind("ENC[", line_start, pos)
    return opened >= 0 and text.rfind("]", opened, pos) < 0


def _quote(line: str) -> bool:
    return '"' in line or "'" in line or "`" in line


def _judge(
    match: re.Match[str],
    kind: str,
    taken: list[tuple[int, int]],
    found: Found,
    *,
    origin: str = "",
    key: str = "",
) -> None:
    key = key or match.group("key")
    parts = _parts(key)
    if key != "mysql -p" and not _names_secret(parts):
        return
    if values.looks_random(key.strip("\"'`")) or _in_ciphertext(match):
        return  # "...y2PwLba3E=" inside sops data is not a name
    value, start, quoted = _value(match, kind)
    if value is None:
        return
    url = value.find("://")
    if url > 0 and "@" not in value:
        return  # a URL without credentials (connections() reads those with one)
    if values.not_a_secret(value, quoted=quoted):
        return
    low = value.lower()
    doc = low in values.DOC_PASSWORDS if kind == CONFIG else values.doc_password(value)
    if doc or low == key.lower() or low in parts:
        return  # passwordKey: password, --password PASSWORD
    end = start + len(value)
    if _overlaps(taken, start, end):
        return  # a token rule or a connection string already reported it
    label = key.strip("\"'`")
    if "aws" in parts and "secret" in parts and _AWS_SECRET.get().fullmatch(value):
        _add(found, taken, start, value, "aws-secret-access-key", "AWS secret access key")
    elif values.looks_random(value, quoted=quoted):
        bits = values.shannon_entropy(value)
        description = f"high-entropy value assigned to '{label}' ({bits:.1f} bits/char)"
        _add(found, taken, start, value, "high-entropy-secret", description)
    elif (key == "mysql -p" or _names_password(parts)) and not values.env_name(value):
        if kind == CONFIG and not values.sentence(value):
            description = f"plaintext password in '{label}' (encrypt it with sops)"
        elif kind in (CODE, OTHER) and values.password_shape(value):
            where = f" ({origin})" if origin else ""
            description = f"plaintext password in '{label}'{where}"
        else:
            return
        _add(found, taken, start, value, "plaintext-password", description)


def _add(  # noqa: PLR0917 (a row of the found list)
    found: Found, taken: list[tuple[int, int]], start: int, value: str, rule: str, text: str
) -> None:
    found.append((start, start + len(value), rule, text, value))
    taken.append((start, start + len(value)))


def _parts(key: str) -> list[str]:
    key = key.strip("\"'`")
    return [p for p in _KEY_SPLIT.get().split(values.CAMEL.get().sub("_", key).lower()) if p]


def _names_secret(parts: list[str]) -> bool:
    """The name says secret, and nothing after its secret word says it is about one."""
    last = -1
    for index, part in enumerate(parts):
        glued = part.endswith(_GLUED_WORDS)
        if part in _SECRET_WORDS or glued or (index and (parts[index - 1], part) in _SECRET_PAIRS):
            last = index
    if last < 0:
        return False
    tail = parts[last + 1 :]
    if any(part in _NOT_SECRET_PARTS for part in tail):
        return False
    # passwordKey, secret_key_ref: the name of a key that holds a password
    return not (tail and tail[0] == "key" and parts[last] in _PASSWORD_WORDS)


def _names_password(parts: list[str]) -> bool:
    return bool(_PASSWORD_WORDS.intersection(parts)) or any(
        part.endswith(("password", "passwd", "passphrase"))
        or part in ("bindpw", "rootpw")
        or part in ("requirepass", "masterauth")
        for part in parts
    )


def _value(match: re.Match[str], kind: str) -> tuple[str | None, int, bool]:
    groups = match.groupdict()
    for group in ("dq", "sq", "bq", "eq", "xml", "braced"):
        if groups.get(group) is not None:
            return match.group(group), match.start(group), True
    if groups.get("bare") is None or (kind == CODE and match.re is _ASSIGNMENT.get()):
        return None, 0, False  # in code, an unquoted value is an expression
    value = match.group("bare")
    start = match.start("bare")
    if kind == CONFIG and _BLOCK.get().fullmatch(value.split(" #")[0].strip()):
        return _block(match.string, match.end("bare"))
    if kind == CONFIG:
        for comment in (" #", "\t#"):
            cut = value.find(comment)
            if cut >= 0:
                value = value[:cut]
        value = value.rstrip().rstrip(",;").rstrip()
    else:
        value = value.split()[0].rstrip(",;)")
    return value, start, False


def _block(text: str, pos: int) -> tuple[str | None, int, bool]:
    """The value of a YAML block scalar (``key: |`` then indented lines) that is one line."""
    lines = text[pos + 1 : pos + 4096].split("\n")
    body = [line for line in lines[:3] if line.strip()]
    if not body:
        return None, 0, False
    first = body[0]
    indent = len(first) - len(first.lstrip())
    if indent == 0 or (len(body) > 1 and len(body[1]) - len(body[1].lstrip()) >= indent):
        return None, 0, False  # not indented, or several lines (a key block, a script)
    start = pos + 1 + text[pos + 1 :].index(first) + indent
    return first.strip(), start, True


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def file_kind(path: str) -> str:
    """``config`` (YAML, JSON, env-like), ``code`` (values only in quotes), ``docs`` (prose:
    tokens and random values only) or ``other``."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if name.startswith(".env") or name.endswith(_CONFIG_SUFFIXES) or name in _CONFIG_NAMES:
        return CONFIG
    if name.endswith(_CODE_SUFFIXES):
        return CODE
    if name.endswith(_DOC_SUFFIXES):
        return DOCS
    return OTHER


_CONFIG_NAMES = ("netrc", ".netrc", "_netrc", ".pgpass", ".npmrc", ".pypirc", "credentials")
_CONFIG_SUFFIXES = (
    ".yaml",
    ".yml",
    ".json",
    ".env",
    ".ini",
    ".cfg",
    ".conf",
    ".properties",
    ".toml",
    ".tfvars",
    ".envrc",
    ".netrc",
)
_CODE_SUFFIXES = (
    ".py",
    ".pyi",
    ".js",
    ".mjs",
    ".cjs",
    ".ts",
    ".tsx",
    ".jsx",
    ".go",
    ".java",
    ".kt",
    ".kts",
    ".rb",
    ".rs",
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".hpp",
    ".cs",
    ".php",
    ".swift",
    ".scala",
    ".tf",
    ".hcl",
    ".lua",
    ".pl",
    ".dart",
    ".groovy",
    ".gradle",
    ".vb",
    ".r",
    ".ex",
    ".exs",
    ".erl",
    ".clj",
)
