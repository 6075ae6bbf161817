"""Pure predicates over a *value* (and sometimes its name's words). Regexes compile once, here.

Two families: ``is_*`` suppressors (the value is not a plaintext secret: an ARN, a path, a flag,
a placeholder...) and ``*_evidence`` detectors (the value carries a secret whatever its name says:
a URL with credentials, a connection string with a password, a provider token, a private key).
Detectors return a stable reason id or ``""``; never the value or any part of it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

# --- suppressors ---------------------------------------------------------------------------------

_BOOL_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "t", "f", "enabled", "disabled",
                         "enable", "disable", "none", "null", "nil", "0", "1"})
_NUMBER_RE = re.compile(r"^[+-]?\d+(?:\.\d+)?(?:ms|s|m|h|d|w|k|kb|mb|gb|ki|mi|gi|%)?$", re.I)
_ARN_RE = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:", re.I)
_RESOLVE_RE = re.compile(r"^\{\{resolve:(secretsmanager|ssm-secure|ssm):", re.I)
_PATH_RE = re.compile(r"^(?:~?/|\./|\.\./|file:/|[A-Za-z]:\\)[^\s]*$")
_SSM_NAME_RE = re.compile(r"^/?[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)+/?$")
_WORDY_SEGMENT_RE = re.compile(r"^(?=[0-9_.\-]*[a-z])[a-z0-9_.\-]{1,40}$")  # lower-case words: at least one letter
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^\s]+$")
_HEX_RE = re.compile(r"^[0-9a-f]{7,64}$")
_DIGEST_RE = re.compile(r"^(?:sha1|sha256|sha384|sha512|md5):[0-9a-f]{32,128}$", re.I)
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_PLACEHOLDER_RE = re.compile(
    r"""^(?:
        \$\{[^}]*\}                       # ${VAR} ${VAR:-x}
      | \$\([^)]*\)                       # $(cmd)
      | \$[A-Za-z_][A-Za-z0-9_]*          # $VAR
      | \{\{.*\}\}                        # {{ x }} (jinja, helm, mustache)
      | \{\{?[A-Za-z_][\w.\-]*\}\}?       # {VAR}
      | <[^<>]*>                          # <your-token>
      | %\(?[A-Za-z_][\w]*\)?s?%?         # %(name)s  %VAR%
      | \#\{[^}]*\}                       # #{ruby}
      | @@?[A-Za-z_][\w]*@@?              # @VAR@ @@VAR@@
      | __[A-Z][A-Z0-9_]*__               # __VAR__
      | \[\[[^\]]*\]\]                    # [[var]]
      | \*{3,}                            # ********
      | [xX]{3,}                          # xxxx
      | \.{3,} | …                        # ...
      | (?:TODO|TBD|FIXME|REDACTED|MASKED|HIDDEN|SET_ME|SETME|REPLACE_?ME|TO_?BE_?SET|N/?A)(?:[\s:_\-].*)?
      | (?:none|null|nil|undefined|unset|empty|-|_|\?+)
    )$""",
    re.X | re.I,
)
_HOST_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::\d{1,5})?$", re.I)
_IP_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?:/\d{1,2})?$")
_EMAIL_RE = re.compile(r"^[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+$")
_PUBLIC_KEY_RE = re.compile(
    r"^(?:pk_(?:live|test)_|ssh-(?:rsa|ed25519|dss) AAAA|ecdsa-sha2-\S+ AAAA|-----BEGIN (?:PUBLIC KEY|CERTIFICATE|"
    r"RSA PUBLIC KEY|PGP PUBLIC KEY BLOCK)-----)"
)


def is_boolean(value: str) -> bool:
    return value.strip().lower() in _BOOL_WORDS


def is_number(value: str) -> bool:
    """Integers, decimals and durations/sizes (``3600``, ``1.5``, ``30s``, ``512Mi``)."""
    return bool(_NUMBER_RE.match(value.strip()))


def is_arn(value: str) -> bool:
    return bool(_ARN_RE.match(value.strip()))


def is_cfn_resolve(value: str) -> str:
    """The service of a CloudFormation dynamic reference (``secretsmanager``/``ssm-secure``/``ssm``) or ''."""
    m = _RESOLVE_RE.match(value.strip())
    return m.group(1).lower() if m else ""


def _plausible_path(v: str) -> bool:
    """No base64 padding/plus and no long mixed-case-and-digit segment: a base64 key that happens to
    start with or contain ``/`` is not a path."""
    if "+" in v or v.endswith("="):
        return False
    for seg in v.split("/"):
        if len(seg) >= 12 and any(c.isupper() for c in seg) and any(c.islower() for c in seg) \
                and any(c.isdigit() for c in seg):
            return False
    return True


def is_file_path(value: str) -> bool:
    v = value.strip()
    return bool(_PATH_RE.match(v)) and _plausible_path(v)


def is_ssm_name(value: str) -> bool:
    """``/prod/db/password`` or ``prod/app/db``: a hierarchical parameter or secret name, all lower-case
    words (a random string with slashes does not qualify)."""
    v = value.strip()
    if not _SSM_NAME_RE.match(v) or not _plausible_path(v):
        return False
    return all(_WORDY_SEGMENT_RE.match(seg) for seg in v.strip("/").split("/")) or v.startswith("/")


def is_url(value: str) -> bool:
    return bool(_URL_RE.match(value.strip()))


def is_hex_digest(value: str) -> bool:
    """A git SHA (short or full), an md5/sha hex digest, or ``sha256:<hex>``."""
    v = value.strip()
    return bool(_HEX_RE.match(v) or _DIGEST_RE.match(v))


def is_uuid(value: str) -> bool:
    return bool(_UUID_RE.match(value.strip()))


def is_placeholder(value: str) -> bool:
    """Templated or masked text that is not the real value: ``${X}``, ``$X``, ``{{ x }}``, ``<token>``,
    ``********``, ``xxx``, ``TODO``. ``changeme`` is NOT a placeholder: it is a real (bad) password."""
    return bool(_PLACEHOLDER_RE.match(value.strip()))


def is_hostname(value: str) -> bool:
    v = value.strip()
    return bool(_HOST_RE.match(v) or _IP_RE.match(v)) or v in ("localhost", "0.0.0.0")


def is_email(value: str) -> bool:
    return bool(_EMAIL_RE.match(value.strip()))


def is_public_key(value: str) -> bool:
    """Publishable or public material: ``pk_live_``, ``ssh-rsa AAAA...``, PEM public keys and certificates."""
    return bool(_PUBLIC_KEY_RE.match(value.strip()))


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    n = len(value)
    # counts in order of first occurrence (as Counter gives them): the same sum, term by term
    return -sum([c / n * math.log2(c / n) for c in map(value.count, dict.fromkeys(value))])


def has_entropy(value: str, limit: float) -> bool:
    """Shannon entropy per character >= ``limit`` (cheap bound checked first)."""
    if not value or math.log2(len(set(value))) < limit:
        return False
    return shannon_entropy(value) >= limit


_ASCII_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_DIGITS = frozenset("0123456789")


def is_random_looking(value: str, min_length: int = 16) -> bool:
    """Long, no spaces, mixes character classes and has high per-character entropy: a generated key."""
    v = value.strip()
    if len(v) < min_length or " " in v:
        return False
    limit = 3.0 if len(v) < 24 else 3.5
    chars = set(v)
    if math.log2(len(chars)) < limit:  # entropy never exceeds log2(distinct characters)
        return False
    if v.isascii():  # the same classes as below, by set
        classes = (not chars.isdisjoint(_ASCII_LOWER)) + (not chars.isdisjoint(_ASCII_UPPER)) + \
            (not chars.isdisjoint(_ASCII_DIGITS))
    else:
        classes = (any(c.islower() for c in v) + any(c.isupper() for c in v) + any(c.isdigit() for c in v))
    if classes < 2:
        return False
    return shannon_entropy(v) >= limit


# --- value evidence ------------------------------------------------------------------------------

_URL_CRED_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://([^\s/@:?#]*):([^\s/@?#]*)@")
_URL_USER_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://([^\s/@:?#]+)@")
_PEM_PRIVATE_RE = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_WEBHOOK_RE = re.compile(r"https://(?:hooks\.slack\.com/(?:services|workflows)/|discord(?:app)?\.com/api/webhooks/"
                         r"|[\w.-]+\.webhook\.office\.com/|outlook\.office\.com/webhook/)\S+")
#: provider token formats. Each alternative is a named group: the group name is the reason id.
_PROVIDER_RE = re.compile(
    r"(?:^|[^A-Za-z0-9])(?:"
    r"(?P<aws_access_key_id>(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})"
    r"|(?P<github_token>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{50,255})"
    r"|(?P<gitlab_token>glpat-[A-Za-z0-9_\-]{20,})"
    r"|(?P<slack_token>xox[abposr]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})"
    r"|(?P<stripe_secret_key>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})"
    r"|(?P<stripe_webhook_secret>whsec_[A-Za-z0-9+/=]{20,})"
    r"|(?P<sendgrid_key>SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64})"
    r"|(?P<twilio_key>SK[0-9a-f]{32})"
    r"|(?P<google_api_key>AIza[0-9A-Za-z_\-]{35})"
    r"|(?P<npm_token>npm_[A-Za-z0-9]{36})"
    r"|(?P<npm_auth>_authToken=[^\s]{8,})"
    r"|(?P<mailchimp_key>[0-9a-f]{32}-us\d{1,2})"
    r"|(?P<mailgun_key>key-[0-9a-f]{32})"
    r"|(?P<openai_key>sk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_\-]{32,})"
    r"|(?P<huggingface_token>hf_[A-Za-z0-9]{30,})"
    r"|(?P<pypi_token>pypi-AgE[A-Za-z0-9_\-]{40,})"
    r"|(?P<shopify_token>shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32})"
    r"|(?P<digitalocean_token>do[por]_v1_[a-f0-9]{64})"
    r"|(?P<square_token>sq0(?:atp|csp)-[0-9A-Za-z\-_]{22,43})"
    r"|(?P<newrelic_key>NRAK-[A-Z0-9]{27}|NRII-[A-Za-z0-9_\-]{32}|[0-9a-f]{36}NRAL)"
    r"|(?P<vault_token>hv[sbr]\.[A-Za-z0-9_\-]{24,})"
    r"|(?P<telegram_bot_token>\d{8,10}:AA[0-9A-Za-z_\-]{33})"
    r"|(?P<databricks_token>dapi[0-9a-f]{32})"
    r"|(?P<grafana_token>glsa_[A-Za-z0-9]{32}_[0-9a-f]{8}|glc_[A-Za-z0-9+/=]{32,})"
    r"|(?P<sentry_token>sntr[ysu]_[A-Za-z0-9+/=_]{30,})"
    r"|(?P<doppler_token>dp\.(?:st|ct|sa|scim)\.[A-Za-z0-9_\-.]{30,})"
    r"|(?P<age_secret_key>AGE-SECRET-KEY-1[0-9A-Z]{58})"
    r"|(?P<postman_key>PMAK-[0-9a-f]{24}-[0-9a-f]{34})"
    r"|(?P<azure_storage_key>AccountKey=[A-Za-z0-9+/=]{40,})"
    r"|(?P<azure_sas>[?&]sig=[A-Za-z0-9%+/=]{20,})"
    r")"
)
#: ``key=value`` pairs inside a value: connection strings, JAVA_OPTS, query strings, JSON blobs
_EMBEDDED_RE = re.compile(
    r"""(?:^|[\s;&?,{(\[]|-D|--?)["']?([A-Za-z_][\w.\-]*)["']?\s*[=:]\s*["']?([^\s"';&,})\]]+)"""
)
_EMBEDDED_HINT_RE = re.compile(r"pass|pwd|secret|token|key|auth|cred|sig", re.I)


def url_credentials_evidence(value: str) -> str:
    """``value:url-credentials`` when a URL carries ``user:password@`` with a real password;
    ``value:url-templated-password`` when the password part is a placeholder; else ''."""
    if "://" not in value or "@" not in value:
        return ""
    m = _URL_CRED_RE.search(value)
    if not m:
        return ""
    password = m.group(2)
    if not password or is_placeholder(password) or password.startswith("$"):
        return "value:url-templated-password"
    return "value:url-credentials"


def url_userinfo_evidence(value: str) -> bool:
    """A URL with a user part and no password (``https://<key>@sentry.io/1``)."""
    return "://" in value and "@" in value and bool(_URL_USER_RE.search(value))


def private_key_evidence(value: str) -> str:
    return "value:private-key" if "PRIVATE KEY" in value and _PEM_PRIVATE_RE.search(value) else ""


#: every provider format holds one of these (a cheap test before the big expression), alternative by
#: alternative: AWS, GitHub, GitLab, Slack, Stripe (sk_/rk_ + live/test), Stripe webhook, SendGrid,
#: Twilio, Google, npm (two), Mailchimp, Mailgun, OpenAI, Hugging Face, PyPI, Shopify, DigitalOcean,
#: Square, New Relic (three), Vault, Telegram, Databricks, Grafana (two), Sentry, Doppler, age, Postman,
#: Azure storage key, Azure SAS
_PROVIDER_MARKS = (
    "AKIA", "ASIA", "ABIA", "ACCA", "gh", "github_pat_", "glpat-", "xox", "xapp-", "_live_", "_test_", "whsec_",
    "SG.", "SK", "AIza", "npm_", "_authToken=", "-us", "key-", "sk-", "hf_", "pypi-AgE", "shp", "_v1_", "sq0",
    "NRAK-", "NRII-", "NRAL", "hvs.", "hvb.", "hvr.", ":AA", "dapi", "glsa_", "glc_", "sntr", "dp.",
    "AGE-SECRET-KEY-1", "PMAK-", "AccountKey=", "sig=",
)


#: any of ``_PROVIDER_MARKS`` (one search in C instead of a test per mark)
_PROVIDER_MARK_RE = re.compile("|".join(map(re.escape, _PROVIDER_MARKS)))


def _may_hold_provider_token(value: str) -> bool:
    """Whether ``value`` holds one of ``_PROVIDER_MARKS`` (the expression can match only then)."""
    return _PROVIDER_MARK_RE.search(value) is not None


def provider_evidence(value: str) -> str:
    """``value:<provider-format>`` for a known provider token format anywhere in the value, else ''."""
    if _PROVIDER_MARK_RE.search(value) is not None:  # _may_hold_provider_token
        m = _PROVIDER_RE.search(value)
        if m and m.lastgroup:
            return "value:" + m.lastgroup.replace("_", "-")
    if "eyJ" in value and _JWT_RE.search(value):
        return "value:jwt"
    if "https://" in value and _WEBHOOK_RE.search(value):
        return "value:webhook-url"
    return ""


_EMBEDDED_HINTS = ("pass", "pwd", "secret", "token", "key", "auth", "cred", "sig")


def _embedded_hint(value: str) -> bool:
    """``_EMBEDDED_HINT_RE.search(value)``; for ASCII text (where ignoring case is lower-casing) by substrings."""
    if value.isascii():
        low = value.lower()
        return any(h in low for h in _EMBEDDED_HINTS)
    return bool(_EMBEDDED_HINT_RE.search(value))


def embedded_evidence(value: str, is_secret_name: Callable[[str], bool]) -> str:
    """``value:embedded-secret`` when the value holds ``key=value`` (or ``"key": "value"``) pairs whose key
    is a secret name and whose value is a plausible literal: ``-Ddb.password=...``, ``Password=...;``,
    ``?token=...``, ``{"password": "..."}``. ``is_secret_name`` judges the inner key."""
    if not _embedded_hint(value):
        return ""
    for m in _EMBEDDED_RE.finditer(mask_templates(value)):
        key, inner = m.group(1), m.group(2)
        if not is_secret_name(key):
            continue
        if _TPL_MARK in inner or is_placeholder(inner) or is_boolean(inner) or is_number(inner) or inner.startswith("$") or len(inner) < 3:
            continue
        if is_file_path(inner) or is_url(inner) or is_arn(inner):
            continue
        return "value:embedded-secret"
    return ""


# --- connection strings and templated credentials ------------------------------------------------

#: template expressions that a renderer replaces with text at deploy time: ``${x}`` (Terraform
#: templatefile, compose, envsubst), ``$X``, ``{{ x }}`` (Jinja, Helm, Go templates), ``#{x}``, ``%(x)s``.
#: Documentation placeholders (``<password>``, ``****``, ``xxx``) are NOT expressions: nothing renders them.
_TPL_EXPR_RE = re.compile(r"\$\{[^{}]*\}|\{\{[^{}]*\}\}|#\{[^{}]*\}|%\([A-Za-z_]\w*\)s|\$[A-Za-z_][A-Za-z0-9_]*")
_TPL_MARK = "\x01"  # stands for one template expression in a masked value (never whitespace, never a separator)
#: Go MySQL driver DSN: ``user:pass@tcp(host:3306)/db``, ``user:pass@unix(/tmp/mysql.sock)/db``
_GO_DSN_RE = re.compile(r"^([^\s:@/()]+):([^\s@()]+)@(?:tcp|tcp4|tcp6|udp|unix)?\(")
_QUERY_USER_KEYS = frozenset({"u", "user", "username", "usr", "login", "uid"})
_QUERY_PASS_KEYS = frozenset({"p", "pw", "pwd", "pass", "passwd", "password", "passphrase"})
#: schemes whose user part alone (no password) is a key: Sentry-style ``https://<key>@host/1``
_USERINFO_KEY_SCHEMES = ("http://", "https://")


def mask_templates(value: str) -> str:
    """``value`` with every template expression replaced by one marker character (see ``_TPL_MARK``)."""
    return _TPL_EXPR_RE.sub(_TPL_MARK, value) if ("$" in value or "{" in value or "%(" in value) else value


def has_template_expression(value: str) -> bool:
    return _TPL_MARK in mask_templates(value)


def _templated(part: str) -> bool:
    return _TPL_MARK in part


def _literal_secret(part: str) -> bool:
    """A plausible literal password/secret (not a placeholder, flag, or marker)."""
    return bool(part) and not is_placeholder(part) and not is_boolean(part)


def _url_userinfo_kind(masked: str) -> str:
    """``literal`` / ``templated`` / ``placeholder`` for a URL's ``user:password@`` password part, else ''."""
    m = _URL_CRED_RE.search(masked)
    if not m:
        return ""
    password = m.group(2)
    if _templated(password):
        return "templated"
    return "literal" if _literal_secret(password) else "placeholder"


def _query_kind(masked: str) -> str:
    """Short-key query credentials (``?u=postgres&p=secret``): ``literal`` / ``templated`` / ''."""
    if "?" not in masked or "=" not in masked:
        return ""
    pairs: dict[str, str] = {}
    for part in re.split(r"[&;]", masked.split("?", 1)[1]):
        k, sep, val = part.partition("=")
        if sep:
            pairs[k.strip().lower()] = val
    pass_keys = [k for k in pairs if k in _QUERY_PASS_KEYS]
    if not pass_keys:
        return ""
    if any(len(k) <= 2 for k in pass_keys) and not any(k in _QUERY_USER_KEYS for k in pairs):
        return ""  # ``?p=2`` alone is a page number, not a password
    vals = [pairs[k] for k in pass_keys]
    if any(_templated(v) for v in vals):
        return "templated"
    return "literal" if any(_literal_secret(v) and len(v) >= 3 for v in vals) else ""


def credential_evidence(value: str, is_secret_name: Callable[[str], bool]) -> str:
    """Credentials carried by a URL, DSN or connection string, literal or templated.

    ``value:url-credentials`` (``scheme://user:pass@``, any scheme: SQLAlchemy ``postgresql+psycopg2``,
    ``amqp``, ``redis://:pass@``, ``mongodb+srv``), ``value:dsn-credentials`` (Go ``user:pass@tcp(h)/db``),
    ``value:query-credentials`` (``?u=..&p=..``), ``value:embedded-secret`` (``Password=...;``, libpq
    ``password=...``, JDBC ``?password=``) for plaintext in the value; ``value:templated-credentials`` when
    the password part is a template expression rendered at deploy time. '' otherwise (a URL with no
    password, a documentation placeholder such as ``user:<password>@``)."""
    masked = mask_templates(value)
    kinds = []
    if "://" in masked and "@" in masked:
        k = _url_userinfo_kind(masked)
        if k == "literal":
            return "value:url-credentials"
        kinds.append(k)
    m = _GO_DSN_RE.match(masked.strip())
    if m:
        if _templated(m.group(2)):
            kinds.append("templated")
        elif _literal_secret(m.group(2)):
            return "value:dsn-credentials"
    k = _query_kind(masked)
    if k == "literal":
        return "value:query-credentials"
    kinds.append(k)
    if "templated" in kinds or (_TPL_MARK in masked and _embedded_templated(masked, is_secret_name)):
        return "value:templated-credentials"
    return ""


def _embedded_templated(masked: str, is_secret_name: Callable[[str], bool]) -> bool:
    """``Password=${db_password};`` / ``-Ddb.password=${X}``: a secret key whose value is a template expression."""
    return any(_templated(m.group(2)) and is_secret_name(m.group(1)) for m in _EMBEDDED_RE.finditer(masked))


def is_connection_url(value: str) -> bool:
    """A URL or DSN naming a server (``postgres://``, ``jdbc:``, Go ``@tcp(``): never an id or digest."""
    v = value.strip()
    return is_url(v) or v.lower().startswith("jdbc:") or bool(re.search(r"@(?:tcp|tcp4|tcp6|unix)\(", v))


def userinfo_is_key(value: str) -> bool:
    """A Sentry-style DSN: an http(s) URL whose user part (no password) is the key. A database URL's user
    (``postgres://app@db/app``) is not a secret."""
    v = value.strip().lower()
    return v.startswith(_USERINFO_KEY_SCHEMES) and url_userinfo_evidence(value)
