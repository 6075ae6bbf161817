"""Name evidence: what a variable or option *name* says about its value.

Names are split into lower-case words on ``_``, ``-``, ``.``, ``/``, spaces and camelCase
boundaries (``HTTP_Passwd`` -> ``http passwd``, ``APIKey`` -> ``api key``). Keywords then match whole
words, or the *end* of a compound word (``PGPASSWORD``, ``authtoken``, ``apikey``), never a prefix:
``TOKENIZER``, ``MONKEY``, ``KEYCLOAK_REALM`` and ``AUTHOR`` carry no evidence.

The last keyword in a name decides. Words *after* it may turn the name into metadata about a secret
(``PASSWORD_MIN_LENGTH``, ``TOKEN_TTL``, ``DB_SECRET_ARN``, ``PASSWORD_FILE``, ``API_KEY_HEADER``);
words before it may turn it into a switch (``ALLOW_EMPTY_PASSWORD``, ``MYSQL_RANDOM_ROOT_PASSWORD``).

Kinds:

* ``strong``  -- the name alone says "secret" (password, secret, token, api key, private key, ...).
* ``weak``    -- a secret only if the value looks like one (an unqualified ``KEY``, ``AUTH``, ``DSN``).
* ``safe``    -- a keyword is present but a modifier says the value is metadata (reason ``modifier``).
* ``neutral`` -- no keyword; only value evidence counts.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

STRONG = "strong"
WEAK = "weak"
SAFE = "safe"
NEUTRAL = "neutral"

_WORD_RE = re.compile(r"[A-Z]+[0-9]*(?=[A-Z][a-z])|[A-Z]?[a-z]+[0-9]*|[A-Z]+[0-9]*|[0-9]+")

_PASSWORD_WORDS = frozenset({"password", "passwords", "passwd", "pwd", "passphrase", "pass", "pw", "pword",
                             "passw", "pswd", "passcode"})
# compound words that end in "pass" and mean a password ("bypass", "compass" do not)
_PASS_PREFIXES = frozenset({"db", "pg", "mysql", "root", "admin", "user", "smtp", "mail", "ftp", "sftp", "redis",
                            "rabbit", "mq", "ldap", "bind", "key", "store", "trust", "keystore", "truststore",
                            "default", "proxy", "http", "basic", "app", "web", "api", "sa", "svc", "mongo"})
_SECRET_WORDS = frozenset({"secret", "secrets"})
_TOKEN_WORDS = frozenset({"token", "tokens", "pat", "bearer"})
_CRED_WORDS = frozenset({"credential", "credentials", "creds", "cred"})
_SALT_WORDS = frozenset({"salt", "pepper"})
_KEY_WORDS = frozenset({"key", "keys"})
#: words that make a following KEY a secret key
_KEY_QUALIFIERS = frozenset({
    "api", "access", "secret", "private", "priv", "signing", "sign", "signature", "encryption", "encrypt", "enc",
    "crypt", "crypto", "cipher", "master", "license", "licence", "app", "auth", "service", "account", "db",
    "database", "session", "cookie", "hmac", "jwt", "webhook", "ssh", "deploy", "integration", "ingest",
    "ingestion", "write", "admin", "server", "shared", "root", "rsa", "pgp", "gpg", "aes", "token", "security",
    "instrumentation", "subscription", "consumer", "client", "tls", "ssl", "x509", "storage", "rest",
    "management", "mgmt", "insert", "query", "search", "push", "sdk", "developer", "dev", "user", "personal",
    "rails", "django", "flask", "laravel", "ed25519", "ecdsa", "oauth", "totp", "otp", "mfa", "vapid",
    "fernet", "nonce",  # Airflow FERNET_KEY, WordPress NONCE_KEY
})
#: words that make a following KEY a non-secret (public, structural) key
_KEY_SAFE_QUALIFIERS = frozenset({
    "public", "publishable", "pub", "site", "cache", "partition", "sort", "hash", "primary", "foreign", "object",
    "s3", "routing", "idempotency", "lock", "kms", "range", "row", "lookup", "map", "dedup", "deduplication",
    "group", "message", "redis", "prefix", "index", "cdn", "bucket", "file", "config", "registry", "i18n",
    "translation", "locale", "maps", "recaptcha", "analytics", "tracking", "measurement", "vapidpublic",
})
_AUTH_WORDS = frozenset({"auth", "authorization", "authn", "authentication", "basicauth", "httpauth"})
_DSN_WORDS = frozenset({"dsn"})

#: words after the keyword that make the value metadata about the secret
_SAFE_AFTER = frozenset({
    "arn", "arns", "name", "names", "id", "ids", "sid", "path", "paths", "file", "files", "filename", "filepath",
    "dir", "directory", "location", "url", "uri", "urls", "endpoint", "endpoints", "host", "hostname", "port",
    "ttl", "expiry", "expires", "expire", "expiration", "exp", "lifetime", "duration", "timeout", "age", "maxage",
    "length", "len", "min", "max", "minimum", "maximum", "size", "count", "limit", "retries", "attempts",
    "enabled", "enable", "disabled", "disable", "required", "require", "type", "kind", "header", "headers",
    "field", "param", "parameter", "params", "parameters", "prefix", "suffix", "policy", "mode", "method",
    "version", "region", "rotation", "rotate", "interval", "period", "days", "hours", "minutes", "seconds",
    "secs", "sec", "ms", "issuer", "audience", "aud", "iss", "provider", "store", "backend", "manager",
    "source", "format", "algorithm", "alg", "algo", "template", "subject", "pattern", "regex", "complexity",
    "strength", "reset", "hint", "label", "user", "username", "usr", "login", "email", "schema", "scheme",
    "strategy", "validation", "validator", "check", "chars", "charset", "ref", "stage", "tag", "role",
    "scope", "scopes", "kms", "ssm", "bucket", "table", "queue", "topic", "index", "mount", "env", "var",
    "level", "threshold", "window", "rate", "delay", "lockout", "history", "reuse", "generator", "cache", "refresh", "renew", "renewal", "leeway", "skew", "storage", "cookie",
    "domain", "realm", "flow", "grant", "response", "request", "in", "out", "mins", "enforce", "rules", "rule", "allowed", "list", "whitelist", "allowlist", "fingerprint", "thumbprint",
    "sha", "digest", "checksum", "auth",  # "TOKEN_AUTH=true", "PASSWORD_AUTH" switch the mechanism on
    "bits", "chain", "set", "pool",
})
#: words before the keyword that make the name a switch
_SAFE_BEFORE = frozenset({"allow", "empty", "random", "generate", "require", "required", "enable", "enabled",
                          "disable", "disabled", "skip", "use", "no", "is", "has", "should", "min", "max",
                          "minimum", "maximum", "forgot", "reset", "change", "expire", "expired", "rotate",
                          "without", "insecure"})
#: a name prefix that says "shipped to the browser": the value is public by design
_PUBLIC_PREFIXES = ("NEXT_PUBLIC_", "PUBLIC_", "GATSBY_PUBLIC_", "NUXT_PUBLIC_", "EXPO_PUBLIC_")


@dataclass(frozen=True)
class NameInfo:
    words: tuple[str, ...]
    kind: str  #: STRONG | WEAK | SAFE | NEUTRAL
    keyword: str = ""  #: stable id of the keyword, e.g. "password", "api-key" ("" when neutral)
    modifier: str = ""  #: the word that made it SAFE
    hints: frozenset[str] = frozenset()  #: other words of interest (dsn, url, sha, id, ...)

    @property
    def reason(self) -> str:
        return f"name:{self.keyword}" if self.keyword else ""


def split_words(name: str) -> tuple[str, ...]:
    """``HTTP_Passwd`` -> ("http", "passwd"); ``dbPassword`` -> ("db", "password")."""
    return tuple(w.lower() for w in _WORD_RE.findall(name))


_NAMED_KEYS = frozenset({"access", "secret", "signing", "encryption", "master", "license", "session", "app",
                         "client", "ssh", "deploy"})


def _key_id(qualifier: str) -> str:
    if qualifier in ("private", "priv"):
        return "private-key"
    if qualifier == "licence":
        return "license-key"
    return f"{qualifier}-key" if qualifier in _NAMED_KEYS else "secret-key"


def _password_keyword(w: str, prev: str) -> str:
    """``password`` when the word means a password here, else ''."""
    if w in _PASSWORD_WORDS:
        return "" if w in ("pass", "pw") and prev in ("by", "com", "sur", "over") else "password"
    if w.endswith(("password", "passwd", "passphrase", "passwords")) or (w.endswith("pwd") and len(w) > 3 and w != "oldpwd"):
        return "password"
    return "password" if w.endswith("pass") and w[:-4] in _PASS_PREFIXES else ""


def _strong_keyword(w: str, prev: str) -> str:
    """The keyword id of a word that is a strong secret name on its own (password, secret, token...)."""
    pw = _password_keyword(w, prev)
    if pw or w in _PASSWORD_WORDS:
        return pw
    if w in _SECRET_WORDS or (("secret" in w) and not w.startswith("secretar")):
        return "secret"
    if w in _TOKEN_WORDS or (w.endswith(("token", "tokens")) and len(w) > 6):
        return "token"
    if w in _CRED_WORDS or w.endswith("credentials"):
        return "credentials"
    if w in _SALT_WORDS:
        return "salt"
    if w in ("apikey", "apikeys", "xapikey"):
        return "api-key"
    return ""


def _key_keyword(w: str, prev: str) -> tuple[str, str] | None:
    """``KEY`` qualified by the word before it, or a compound ``...key`` word."""
    if w in _KEY_WORDS:
        if prev == "api":
            return "api-key", STRONG
        if prev in ("private", "priv"):
            return "private-key", STRONG
        if prev in _KEY_QUALIFIERS:
            return _key_id(prev), STRONG
        return ("key", SAFE) if prev in _KEY_SAFE_QUALIFIERS else ("key", WEAK)
    if w.endswith("key") and len(w) > 3:
        stem = w[:-3]
        if stem in _KEY_QUALIFIERS and stem not in ("user", "app", "client", "dev"):
            return _key_id(stem), STRONG
        if stem in _KEY_SAFE_QUALIFIERS:
            return "key", SAFE
    return None


def _keyword_at(words: tuple[str, ...], i: int) -> tuple[str, str] | None:
    """(keyword id, strength) when words[i] is a keyword in context, else None."""
    w = words[i]
    prev = words[i - 1] if i > 0 else ""
    strong = _strong_keyword(w, prev)
    if strong:
        return strong, STRONG
    if w in _KEY_WORDS or (w.endswith("key") and len(w) > 3):
        return _key_keyword(w, prev)
    if w in _AUTH_WORDS:
        nxt = words[i + 1] if i + 1 < len(words) else ""
        return ("auth", STRONG) if nxt in ("data", "config", "string", "info", "json") else ("auth", WEAK)
    if w in _DSN_WORDS or w.endswith("dsn") and len(w) > 3:
        return "dsn", WEAK
    return None


@functools.lru_cache(maxsize=16384)
def analyze_name(name: str) -> NameInfo:
    """Classify a variable or option name (cached: names repeat across files)."""
    words = split_words(name)
    hints = frozenset(w for w in words if w in ("dsn", "url", "uri", "sha", "commit", "revision", "digest", "hash",
                                                  "checksum", "id", "sid", "uuid", "guid", "version", "build", "etag",
                                                  "sentry", "webhook", "ref", "tag", "image"))
    upper = name.upper()
    found: tuple[int, str, str] | None = None
    for i in range(len(words) - 1, -1, -1):
        kw = _keyword_at(words, i)
        if kw is not None:
            found = (i, kw[0], kw[1])
            break
    if found is None:
        return NameInfo(words, NEUTRAL, hints=hints)
    i, keyword, strength = found
    if strength == SAFE:
        return NameInfo(words, SAFE, keyword, words[i - 1] if i else "", hints)
    if upper.startswith(_PUBLIC_PREFIXES):
        return NameInfo(words, SAFE, keyword, "public-prefix", hints)
    after = words[i + 1:]
    for w in after:
        if w in _SAFE_AFTER:
            return NameInfo(words, SAFE, keyword, w, hints)
    if keyword == "secret" and after[:1] == ("key",):
        keyword = "secret-key"
    for w in words[:i]:
        if w in _SAFE_BEFORE:
            return NameInfo(words, SAFE, keyword, w, hints)
    # "PUBLIC_KEY"-style qualifiers anywhere before a weak KEY
    if strength == WEAK and keyword == "key" and any(w in _KEY_SAFE_QUALIFIERS for w in words[:i]):
        return NameInfo(words, SAFE, keyword, "public", hints)
    return NameInfo(words, strength, keyword, "", hints)
