"""Decide, for every (name, value) entry, whether it is a plaintext secret.

This is the only module that imports ``detect_secrets``. Plugins run in-process, never the CLI and
never verification, inside ``transient_settings`` entered at most once per :func:`classify` call, and
only for entries whose verdict they can change (see below).

Rule, in order (first match wins):

1. ``entry.managed`` -> not-secret, ``already-managed``.
2. Config ``force`` / ``ignore`` rules -> secret / not-secret (``config:force`` / ``config:ignore``).
3. The value kind is refined: ``{{resolve:...}}`` and ARNs become REFERENCE; ``${X}``, ``$X``,
   ``{{ x }}``, ``<token>``, ``****``, ``xxx``, ``TODO`` become TEMPLATED; ``""`` becomes EMPTY.
   A non-literal value (empty, interpolated, templated, a reference the source resolved no further) is
   a secret when rendering puts a credential there, with nothing to move from this file
   (``migratable=False``): the *name* is a strong secret name or an access key id (``AWS_ACCESS_KEY_ID``,
   ``AccessKeyId``), the same in every format (``${x}`` in a JSON template, ``var.x``, ``!Ref X``, compose
   ``${X}``); or the text is a URL / connection string whose password part is a template expression
   (``postgres://${user}:${password}@h``, ``Server=..;Password=${p}``, ``u:${P}@tcp(h)/db``, ``?p=${P}``):
   ``value:templated-credentials``, also when it arrived as a literal (a JSON template). Genuine
   references stay not-secret: ARNs, SSM parameter names, ``valueFrom`` (managed), a whole-value compose
   ``${VAR}`` under a non-secret name, and documentation placeholders (``user:<password>@``), which
   nothing renders.
4. Value evidence that holds whatever the name: a private-key block, a provider token format
   (AWS ``AKIA``, ``ghp_``, ``xox?-``, ``sk_live_``, ``SG.``, ``AIza``, JWT, Slack webhook URL...),
   credentials in a URL or DSN of any scheme (``user:password@``, SQLAlchemy ``postgresql+psycopg2``,
   ``amqp``, ``redis://:p@``, ``mongodb+srv``), a Go MySQL DSN (``user:pass@tcp(h)/db``), query
   credentials (``?u=..&p=..``, ``?password=``, JDBC), ``key=value`` pairs with a secret key inside the
   value (ADO.NET ``Password=``, libpq ``password=``, ``-Ddb.password=`` in JAVA_OPTS, ``?token=``) ->
   secret. A URL without a password (``postgres://user@host/db``) is not a secret by itself, and no
   id/digest filter ever explains a URL or DSN.
5. Name evidence (:mod:`migrate.detect.names`):
   * strong name -> secret unless a filter explains the value (boolean, short number, file path,
     URL without credentials, parameter name, public key, too short); a value equal to an identifier
     of its own definition (the unit, group or variable name: ``MYSQL_PASSWORD: gitea`` in service
     ``gitea``) is a weak password, ``value:equals-identifier`` plus ``identifier:<which>``, before any
     filter;
   * name with a metadata modifier (``PASSWORD_MIN_LENGTH``, ``DB_SECRET_ARN``) -> not-secret;
   * weak name (``*_KEY``, ``AUTH``, ``*_DSN``) -> secret only when the value looks generated
     (length >= 16, mixed classes, high entropy) or detect-secrets' entropy plugins fire, or for a
     DSN, when an http(s) URL carries a user part (Sentry; a database URL's user is not a key);
   * neutral name -> not-secret unless detect-secrets fires on a long, random-looking value that no
     filter explains (git SHAs, digests and UUIDs in neutral names are ids, not secrets).

Confidence: ``high`` when name and value evidence agree (strong name + generated-looking value),
or a provider format / private key / URL credential / embedded secret matched; ``medium`` on a
strong name with a plausible literal, a weak name with a generated-looking value, or a strong name
over a non-literal value; ``low`` for value entropy alone. Not-secret verdicts are ``high`` when a
filter or config rule explained them, ``medium`` otherwise.

Reasons are stable short ids (``name:password``, ``value:url-credentials``, ``ds:Base64 High Entropy
String``, ``filter:arn``, ``config:force``...). No reason, and nothing in a Finding, carries the value,
its length or a hash of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from migrate.detect import filters as F
from migrate.detect.names import NEUTRAL, SAFE, STRONG, WEAK, NameInfo, analyze_name
from migrate.model import Confidence, Entry, Finding, ValueKind, Verdict

if TYPE_CHECKING:
    from migrate.config import Config

#: detect-secrets plugins used for value evidence. Twilio (``AC``/``SK`` + 32 hex are SIDs, i.e. ids)
#: and public-IP detection are left out: in env definitions they report identifiers, not secrets.
DS_PLUGINS: tuple[str, ...] = (
    "ArtifactoryDetector", "AWSKeyDetector", "AzureStorageKeyDetector", "Base64HighEntropyString",
    "BasicAuthDetector", "CloudantDetector", "DiscordBotTokenDetector", "GitHubTokenDetector",
    "GitLabTokenDetector", "HexHighEntropyString", "IbmCloudIamDetector", "IbmCosHmacDetector",
    "JwtTokenDetector", "KeywordDetector", "MailchimpDetector", "NpmDetector", "OpenAIDetector",
    "PrivateKeyDetector", "PypiTokenDetector", "SendGridDetector", "SlackDetector", "SoftlayerDetector",
    "SquareOAuthDetector", "StripeDetector", "TelegramBotTokenDetector",
)

_REF_MODIFIERS = frozenset({"arn", "arns", "name", "names", "path", "paths", "param", "parameter", "params",
                            "id", "ssm", "ref", "location"})
_ID_HINTS = frozenset({"sha", "commit", "revision", "digest", "hash", "checksum", "id", "sid", "uuid", "guid",
                       "version", "build", "etag", "ref", "tag", "image"})

H, M, L = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW
_LITERAL, _EMPTY = ValueKind.LITERAL, ValueKind.EMPTY
_SECRET, _NOT = Verdict.SECRET, Verdict.NOT_SECRET


class _Judgement(NamedTuple):
    verdict: Verdict
    confidence: Confidence
    reasons: tuple[str, ...]
    kind: ValueKind


_VERIFY_FILTER = "detect_secrets.filters.common.is_ignored_due_to_verification_policies"


class _Plugins:
    """Lazily enters detect-secrets settings once; ``fired(name, value)`` -> secret types found.

    Only public detect-secrets names are used: ``transient_settings``/``get_settings``/``get_plugins``,
    ``get_filters_with_parameter``, ``call_function_with_arguments``, ``get_code_snippet`` and each plugin's
    ``analyze_line``. :meth:`_scan` applies them in the order detect-secrets' own file scan does (line
    filters, then each plugin's findings through the secret and context filters, non-eager), so the
    results are those of a file scan of the one line. Verification (network) is switched off explicitly.
    """

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._ready = False

    def _enter(self) -> None:
        from detect_secrets.settings import get_settings, transient_settings

        self._stack.enter_context(transient_settings({"plugins_used": [{"name": n} for n in DS_PLUGINS]}))
        get_settings().disable_filters(_VERIFY_FILTER)  # never verify over the network
        self._ready = True

    def fired(self, name: str, value: str) -> tuple[str, ...]:
        if not self._ready:
            self._enter()
        line = f"{name}={json.dumps(value)}"
        # .yaml selects the keyword regexes with optional quotes; the value is quoted for the entropy ones
        return tuple(sorted(set(_scan(line, "env.yaml"))))


def _filtered(parameters: tuple[str, ...], **kwargs: object) -> bool:
    """Whether any detect-secrets filter taking at least ``parameters`` rejects the candidate."""
    from detect_secrets.core.scan import get_filters_with_parameter
    from detect_secrets.util.inject import call_function_with_arguments

    for filter_fn in get_filters_with_parameter(*parameters):
        try:
            if call_function_with_arguments(filter_fn, **kwargs):
                return True
        except TypeError:  # a filter that needs an argument not given here does not apply
            continue
    return False


def _scan(line: str, filename: str) -> Iterator[str]:
    """Secret types detect-secrets reports for one line of ``filename`` (see :class:`_Plugins`)."""
    from detect_secrets.settings import get_plugins
    from detect_secrets.util.code_snippet import get_code_snippet

    line = line.rstrip()
    context = get_code_snippet(lines=[line], line_number=1)
    if _filtered(("line",), filename=filename, line=line, context=context):
        return
    for plugin in get_plugins():
        for secret in plugin.analyze_line(filename=filename, line=line, line_number=1, context=context) or ():
            if _filtered(("secret",), filename=secret.filename, secret=secret.secret_value, plugin=plugin, line=line):
                continue
            if _filtered(("context",), filename=secret.filename, secret=secret.secret_value, plugin=plugin,
                         line=line, context=context):
                continue
            yield str(secret.type)


def _is_secret_key_name(key: str) -> bool:
    return analyze_name(key).kind == STRONG


def _credential_name(info: NameInfo) -> bool:
    """The name alone says the rendered value is a credential: a strong secret name, or an access key id
    (``AWS_ACCESS_KEY_ID``, ``AccessKeyId``: half of a key pair, a secret whatever its value's form)."""
    return info.kind == STRONG or (info.keyword == "access-key" and info.modifier == "id" and info.words[-1:] == ("id",))


_TEMPLATED_CREDS = "value:templated-credentials"


def _non_literal(info: NameInfo, kind: ValueKind, value: str = "") -> _Judgement:
    """A value that is not plaintext in this file (empty, interpolated, templated, a reference).

    It is a secret when rendering puts a credential there: the name is a credential name, or the text
    we have is a URL / connection string whose password part is a template expression (or plaintext)."""
    tag = f"value:{kind.value}"
    name_r = (info.reason,) if info.reason else ()
    ev = F.credential_evidence(value, _is_secret_key_name) if value else ""
    if not ev and value and info.kind != SAFE and ("=" in value or ":" in value):
        ev = F.embedded_evidence(value, _is_secret_key_name)
    if ev:
        if kind is ValueKind.LITERAL:
            kind, tag = ValueKind.TEMPLATED, "value:templated"
        return _Judgement(_SECRET, M, (*name_r, ev, tag), kind)
    if _credential_name(info):
        return _Judgement(_SECRET, M, (*name_r, tag), kind)
    return _Judgement(_NOT, H, (*name_r, tag), kind)


#: detect-secrets' Base64 plugin needs entropy 4.5 (so >= 23 distinct characters); its hex plugin only
#: matters for hex strings, which are ids/digests under a neutral name. Below these, it cannot fire.
_DS_MIN_LEN = 20
_DS_MIN_ENTROPY = 4.2


@functools.lru_cache(maxsize=4096)
def _identifiers(name: str, unit: str, units: tuple[str, ...], group: str) -> dict[str, str]:
    """The identifiers of the entry's own definition, normalised, with the reason id naming each
    (cached: names, units and groups are not values). Callers must not mutate the result. The
    definition :func:`_equals_identifier` answers by (without building them; tests compare the two)."""
    out: dict[str, str] = {}
    for u in (unit, *units):
        if u:
            out.setdefault(_norm(u), "identifier:unit-name")
    if group:
        out.setdefault(_norm(group), "identifier:group-name")
    out.setdefault(_norm(name), "identifier:variable-name")
    for word in analyze_name(name).words:
        if len(word) >= 3:
            out.setdefault(word, "identifier:name-word")
    return out


#: what ``str.isalnum`` rejects: ``\\w`` is alphanumeric or ``_`` (the same Unicode tables)
_NOT_ALNUM = re.compile(r"[\W_]+")


def _norm(text: str) -> str:
    """``text`` lower-cased, alphanumeric characters only."""
    return _NOT_ALNUM.sub("", text.lower())


def _equals_identifier(s: _Subject, v: str) -> str:
    """The reason id when ``v`` is (case and separators aside) the unit, group or variable name: the
    first of :func:`_identifiers` (in its order) that equals the normalised value, without building them
    (an ASCII identifier shorter than the normalised value cannot equal it: normalising never lengthens it)."""
    n = _norm(v)
    if not n:
        return ""
    size = len(n)
    for u in (s.unit, *s.units):
        if u and (len(u) >= size or not u.isascii()) and _norm_ident(u) == n:
            return "identifier:unit-name"
    g = s.group
    if g and (len(g) >= size or not g.isascii()) and _norm_ident(g) == n:
        return "identifier:group-name"
    if (len(s.name) >= size or not s.name.isascii()) and _norm_ident(s.name) == n:
        return "identifier:variable-name"
    if size >= 3 and n in analyze_name(s.name).words:
        return "identifier:name-word"
    return ""


@functools.lru_cache(maxsize=8192)
def _norm_ident(text: str) -> str:
    """:func:`_norm` of a name, unit or group (cached: they repeat; never a value)."""
    return _norm(text)


def _refine(info: NameInfo, v: str, name_r: tuple[str, ...], cred: str) -> _Judgement | None:
    """Step 3 for a literal: empty, dynamic reference, ARN, placeholder, credentials templated in."""
    if not v:
        return _non_literal(info, ValueKind.EMPTY)
    service = F.is_cfn_resolve(v)
    if service:
        if service in ("secretsmanager", "ssm-secure") or info.kind == STRONG:
            return _Judgement(_SECRET, M, (*name_r, "value:cfn-dynamic-reference"), ValueKind.REFERENCE)
        return _Judgement(_NOT, H, (*name_r, "value:cfn-dynamic-reference"), ValueKind.REFERENCE)
    if F.is_arn(v):
        return _Judgement(_NOT, H, (*name_r, "filter:arn"), ValueKind.REFERENCE)
    if F.is_placeholder(v):
        return _non_literal(info, ValueKind.TEMPLATED)
    if cred == _TEMPLATED_CREDS:
        return _non_literal(info, ValueKind.LITERAL, v)
    return None


def _value_evidence(info: NameInfo, v: str, name_r: tuple[str, ...], cred: str) -> _Judgement | None:
    """Step 4: evidence in the value whatever the name says."""
    kind = ValueKind.LITERAL
    if len(v) >= 16:
        if F.is_public_key(v):
            return _Judgement(_NOT, H, (*name_r, "filter:public-key"), kind)
        ev = F.private_key_evidence(v) or F.provider_evidence(v)
        if ev:
            return _Judgement(_SECRET, H, (*name_r, ev), kind)
    if cred:
        return _Judgement(_SECRET, H, (*name_r, cred), kind)
    if F.url_credentials_evidence(v):  # user:<placeholder>@ -- documentation, nothing is rendered there
        return _Judgement(_NOT, H, (*name_r, "filter:url-templated-password"), kind)
    if ("=" in v or ":" in v) and len(v) >= 8 and info.kind != SAFE:
        ev = F.embedded_evidence(v, _is_secret_key_name)
        if ev:
            return _Judgement(_SECRET, H, (*name_r, ev), kind)
    return None


_SYSTEM_DIRS = ("/run/", "/var/", "/etc/", "/tmp/", "/home/", "/opt/", "/app/", "/usr/", "/secrets/", "/mnt/",
                "/data/", "/srv/", "/root/")


def _strong(s: _Subject, info: NameInfo, v: str, name_r: tuple[str, ...]) -> _Judgement:
    ident = _equals_identifier(s, v)
    if ident and not F.is_boolean(v):
        # ``MYSQL_PASSWORD: photoprism`` in service photoprism: a weak password, never a placeholder or an id
        return _Judgement(_SECRET, M, (*name_r, "value:equals-identifier", ident), ValueKind.LITERAL)
    shaped = _strong_shape(info, v, name_r)
    if shaped is not None:
        return shaped
    if len(v) < 3:
        return _Judgement(_NOT, M, (*name_r, "filter:too-short"), ValueKind.LITERAL)
    if F.is_random_looking(v, 12):
        return _Judgement(_SECRET, H, (*name_r, "value:generated"), ValueKind.LITERAL)
    return _Judgement(_SECRET, M, (*name_r, "value:literal"), ValueKind.LITERAL)


def _strong_shape(info: NameInfo, v: str, name_r: tuple[str, ...]) -> _Judgement | None:
    """Filters that explain a strong name's value: a flag, a number, a path, a URL, a parameter name."""
    kind = ValueKind.LITERAL
    if F.is_boolean(v):
        return _Judgement(_NOT, H, (*name_r, "filter:boolean"), kind)
    if F.is_number(v):
        if v.isdigit() and len(v) >= 6:
            return _Judgement(_SECRET, M, (*name_r, "value:numeric-literal"), kind)
        return _Judgement(_NOT, H, (*name_r, "filter:numeric-flag"), kind)
    if F.is_file_path(v):
        is_param = F.is_ssm_name(v) and not v.startswith(_SYSTEM_DIRS)
        return _Judgement(_NOT, H, (*name_r, "filter:ssm-name" if is_param else "filter:path"),
                          ValueKind.REFERENCE if is_param else kind)
    if F.is_url(v):
        if "dsn" in info.hints and F.userinfo_is_key(v):
            return _Judgement(_SECRET, H, (*name_r, "value:url-userinfo"), kind)
        return _Judgement(_NOT, H, (*name_r, "filter:url"), kind)
    if "/" in v and F.is_ssm_name(v):
        return _Judgement(_NOT, M, (*name_r, "filter:ssm-name"), ValueKind.REFERENCE)
    return None


def _safe(info: NameInfo, v: str, name_r: tuple[str, ...]) -> _Judgement:
    if info.modifier in _REF_MODIFIERS and (F.is_ssm_name(v) or F.is_arn(v)):
        return _Judgement(_NOT, H, (*name_r, f"filter:modifier-{info.modifier}"), ValueKind.REFERENCE)
    return _Judgement(_NOT, M, (*name_r, f"filter:modifier-{info.modifier}"), ValueKind.LITERAL)


def _weak(name: str, info: NameInfo, v: str, name_r: tuple[str, ...], plugins: _Plugins) -> _Judgement:
    kind = ValueKind.LITERAL
    if info.keyword == "dsn":
        if F.userinfo_is_key(v):
            return _Judgement(_SECRET, M, (*name_r, "value:url-userinfo"), kind)
        return _Judgement(_NOT, M, (*name_r, "value:no-credentials"), kind)
    if F.is_boolean(v) or F.is_number(v) or F.is_url(v) or F.is_file_path(v) or F.is_hostname(v):
        return _Judgement(_NOT, H, (*name_r, "filter:not-a-key-value"), kind)
    if v.lower().startswith(("bearer ", "basic ", "token ")) and len(v) >= 16:
        return _Judgement(_SECRET, M, (*name_r, "value:authorization-header"), kind)
    if F.is_random_looking(v, 16) or (F.is_uuid(v) and info.keyword == "key"):
        return _Judgement(_SECRET, M, (*name_r, "value:generated"), kind)
    if len(v) >= _DS_MIN_LEN and " " not in v and F.has_entropy(v, 3.0):
        fired = plugins.fired(name, v)
        if fired:
            return _Judgement(_SECRET, L, (*name_r, *(f"ds:{t}" for t in fired)), kind)
    return _Judgement(_NOT, M, (*name_r, "value:not-generated"), kind)


def _neutral(name: str, info: NameInfo, v: str, plugins: _Plugins) -> _Judgement:
    """Value entropy alone, minus what filters explain. detect-secrets runs only when our own estimate
    says its entropy plugins may fire (provider formats and credentials were checked before)."""
    kind = ValueKind.LITERAL
    if len(v) < _DS_MIN_LEN or " " in v:
        return _Judgement(_NOT, H, ("no-evidence",), kind)
    if F.is_connection_url(v):  # credentials were looked for above; ids and digests never explain a URL
        return _Judgement(_NOT, H, ("filter:url-no-credentials",), kind)
    if (info.hints & _ID_HINTS or F.is_hex_digest(v) or F.is_uuid(v) or F.is_file_path(v)
            or F.is_hostname(v) or F.is_email(v)):
        return _Judgement(_NOT, H, ("filter:id-or-digest",), kind)
    if not F.has_entropy(v, _DS_MIN_ENTROPY):
        return _Judgement(_NOT, H, ("no-evidence",), kind)
    fired = plugins.fired(name, v)
    if fired:
        return _Judgement(_SECRET, L, tuple(f"ds:{t}" for t in fired), kind)
    return _Judgement(_NOT, M, ("no-evidence",), kind)


class _Subject(NamedTuple):
    """What a judgement reads of an entry besides its value: the name, and for a strong name the
    identifiers of its definition (a value equal to one is a weak password)."""

    name: str
    unit: str = ""
    units: tuple[str, ...] = ()
    group: str = ""


def _judge(entry: Entry, plugins: _Plugins) -> _Judgement:
    return _judge_value(_Subject(entry.name, entry.unit, entry.units, entry.group), entry.value_kind,
                        entry.value.reveal() if entry.value is not None else None, plugins)


#: a value of letters, digits, ``.``, ``_`` and ``-`` only: no URL, DSN, query, template, path, ARN,
#: key=value pair, PEM block or whitespace can be in it (see :func:`_judge_plain`)
_PLAIN = re.compile(r"[A-Za-z0-9._\-]+")
_PUBLISHABLE = ("pk_live_", "pk_test_")
#: first characters of the placeholders a plain value can be (``xxx``, ``...``, ``-``, ``_``, ``__X__``,
#: ``TODO``, ``TBD``, ``FIXME``, ``REDACTED``, ``MASKED``, ``HIDDEN``, ``SET_ME``, ``REPLACE_ME``,
#: ``TO_BE_SET``, ``NA``, ``none``, ``null``, ``nil``, ``undefined``, ``unset``, ``empty``; any case)
_PLACEHOLDER_STARTS = frozenset("xX.-_tTfFrRmMhHsSnNuUeE")


_NO_EVIDENCE = _Judgement(_NOT, H, ("no-evidence",), ValueKind.LITERAL)


@functools.lru_cache(maxsize=1024)
def _modifier(name_r: tuple[str, ...], modifier: str) -> _Judgement:
    """A safe name's verdict on a plain literal (per name: no value in it)."""
    return _Judgement(_NOT, M, (*name_r, f"filter:modifier-{modifier}"), ValueKind.LITERAL)


def _judge_plain(s: _Subject, info: NameInfo, v: str, plugins: _Plugins) -> _Judgement | None:
    """:func:`_judge_value` of a non-empty plain literal (``_PLAIN``), taking the same steps minus the
    checks that cannot match such a value; None for a placeholder (the full path decides)."""
    # credential_evidence needs "@", "?", a template or a marker; a CloudFormation reference "{"; an ARN ":"
    if v[0] in _PLACEHOLDER_STARTS and F.is_placeholder(v):
        return None
    kind = info.kind
    if len(v) < 16:
        if kind == NEUTRAL:
            return _NO_EVIDENCE
        name_r = (info.reason,) if info.reason else ()
    else:
        name_r = (info.reason,) if info.reason else ()
        if v.startswith(_PUBLISHABLE):  # the only public-key form without a space, colon or slash
            return _Judgement(_NOT, H, (*name_r, "filter:public-key"), ValueKind.LITERAL)
        ev = F.provider_evidence(v)  # a private key block has spaces
        if ev:
            return _Judgement(_SECRET, H, (*name_r, ev), ValueKind.LITERAL)
    # URL credentials need "://", embedded pairs "=" or ":"
    if kind == STRONG:
        return _strong(s, info, v, name_r)
    if kind == SAFE:  # an SSM name needs "/", an ARN ":"
        return _modifier(name_r, info.modifier)
    if kind == WEAK:
        return _weak(s.name, info, v, name_r, plugins)
    return _plain_neutral(s.name, info, v, plugins)


def _plain_neutral(name: str, info: NameInfo, v: str, plugins: _Plugins) -> _Judgement:
    """:func:`_neutral` of a plain value."""
    if len(v) < _DS_MIN_LEN:
        return _NO_EVIDENCE
    # a connection URL needs "://", "jdbc:" or "@tcp("; a file path "/", ":" or "\\"; an e-mail "@"
    if info.hints & _ID_HINTS or F.is_hex_digest(v) or F.is_uuid(v) or F.is_hostname(v):
        return _Judgement(_NOT, H, ("filter:id-or-digest",), ValueKind.LITERAL)
    if not F.has_entropy(v, _DS_MIN_ENTROPY):
        return _NO_EVIDENCE
    fired = plugins.fired(name, v)
    if fired:
        return _Judgement(_SECRET, L, tuple(f"ds:{t}" for t in fired), ValueKind.LITERAL)
    return _Judgement(_NOT, M, ("no-evidence",), ValueKind.LITERAL)


#: a URL with no user part, query, fragment, template, escape or whitespace (see :func:`_judge_url`)
_URLISH = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[A-Za-z0-9._~:/\-]+")


def _judge_url(s: _Subject, info: NameInfo, v: str, name_r: tuple[str, ...], plugins: _Plugins) -> _Judgement | None:
    """:func:`_judge_value` of a literal ``_URLISH`` value, taking the same steps minus the checks that
    cannot match it (None for a placeholder: the full path decides): credentials need "@", "?" or a
    template; a dynamic reference "{"; an ARN has no "://"; a public or private key a space, "_" or a
    leading "-"."""
    if F.is_placeholder(v):
        return None
    if len(v) >= 16:
        ev = F.provider_evidence(v)
        if ev:
            return _Judgement(_SECRET, H, (*name_r, ev), ValueKind.LITERAL)
    if len(v) >= 8 and info.kind != SAFE:  # it holds ":"
        ev = F.embedded_evidence(v, _is_secret_key_name)
        if ev:
            return _Judgement(_SECRET, H, (*name_r, ev), ValueKind.LITERAL)
    return _by_name(s, info, v, name_r, plugins)


def _judge_value(s: _Subject, kind: ValueKind, value: str | None, plugins: _Plugins, *,
                 quick: bool = True, info: NameInfo | None = None) -> _Judgement:
    """The judgement (``quick=False``: never the plain-value shortcut, for tests comparing both)."""
    if info is None:
        info = analyze_name(s.name)
    if quick and kind is ValueKind.LITERAL and value and _PLAIN.fullmatch(value):
        j = _judge_plain(s, info, value, plugins)
        if j is not None:
            return j
    v = value.strip() if value is not None else ""
    name_r = (info.reason,) if info.reason else ()
    if kind is not ValueKind.LITERAL:
        return _non_literal(info, kind, v)
    if quick and v[:4].lower() == "arn:" and F.is_arn(v):
        # _refine says so before anything else can (an ARN is neither empty nor a dynamic reference)
        return _Judgement(_NOT, H, (*name_r, "filter:arn"), ValueKind.REFERENCE)
    if quick and "://" in v and _URLISH.fullmatch(v):
        j = _judge_url(s, info, v, name_r, plugins)
        if j is not None:
            return j
    cred = F.credential_evidence(v, _is_secret_key_name) if v else ""
    refined = _refine(info, v, name_r, cred) or _value_evidence(info, v, name_r, cred)
    if refined is not None:
        return refined
    return _by_name(s, info, v, name_r, plugins)


def _by_name(s: _Subject, info: NameInfo, v: str, name_r: tuple[str, ...], plugins: _Plugins) -> _Judgement:
    """Step 5: what the name says, for a literal no value evidence decided."""
    if info.kind == STRONG:
        return _strong(s, info, v, name_r)
    if info.kind == SAFE:
        return _safe(info, v, name_r)
    if info.kind == WEAK:
        return _weak(s.name, info, v, name_r, plugins)
    return _neutral(s.name, info, v, plugins)


_WHY_NOT = {
    ValueKind.EMPTY: "value is empty in this file",
    ValueKind.INTERPOLATED: "value is interpolated at render time; move it where it is defined",
    ValueKind.TEMPLATED: "value is a template placeholder, not the plaintext",
    ValueKind.REFERENCE: "value is a reference, not plaintext",
}


#: a source refuses an entry with its own reason: ``restorable=False`` and this marker in the note
NOT_MIGRATABLE = "not migratable: "


def _refusal(note: str) -> str:
    """The source's own reason from a note holding ``not migratable: <reason>`` (up to a ``;``)."""
    _, sep, rest = note.partition(NOT_MIGRATABLE)
    return rest.split(";")[0].strip() if sep else ""


def _finding(entry: Entry, j: _Judgement) -> Finding:
    if j.kind is not entry.value_kind:
        entry = dataclasses.replace(entry, value_kind=j.kind)
    migratable = False
    why_not = ""
    if j.verdict is _SECRET:
        if entry.managed:
            why_not = "already a secrets reference"
        elif entry.blocked:
            why_not = entry.blocked
        elif j.kind is ValueKind.REFERENCE and entry.resolves_to:
            migratable = entry.restorable
            why_not = "" if migratable else "the original text cannot be rebuilt byte-identically"
        elif _TEMPLATED_CREDS in j.reasons:
            why_not = "the credentials are rendered in from template variables at deploy time; move them where they are defined"
        elif j.kind is not ValueKind.LITERAL:
            why_not = _refusal(entry.note) or _WHY_NOT.get(j.kind, f"value is {j.kind.value}")
        elif not entry.restorable:
            why_not = _refusal(entry.note) or "the original text cannot be rebuilt byte-identically (unusual escapes)"
        else:
            migratable = True
    return Finding(entry, j.verdict, j.confidence, j.reasons, migratable, why_not)


def classify_one(entry: Entry, config: Config | None = None) -> Finding:
    """Classify a single entry (convenience for tests and interactive use)."""
    return classify([entry], config)[0]


@functools.lru_cache(maxsize=4096)
def _name_never_secret(name: str) -> bool:
    info = analyze_name(name)
    return info.kind != STRONG and not _credential_name(info)


class Judge:
    """Judgements for one scan (or one :func:`classify` call): detect-secrets' settings are entered at
    most once, on first need, and restored by :meth:`close`.

    The same (name, value) recurs across files (``LOG_LEVEL=info``, ``PORT=8080``): it is judged once.
    The judgement reads only the name and value, and for a strong name the unit, units and group too
    (a value equal to an identifier), so those are in the key. The cache is in memory only, never
    printed or stored, bounded (cleared when full), and dropped by :meth:`close`.
    """

    #: cached judgements before the cache is cleared (keeps memory flat on huge scans)
    MAX_CACHED = 1 << 13

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._plugins = _Plugins(self._stack)
        self._seen: dict[tuple[object, ...], _Judgement] = {}
        self._lit: dict[tuple[str, ...], _Judgement] = {}

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._seen.clear()
        self._lit.clear()
        self._stack.close()
        self._plugins = _Plugins(self._stack)

    def judge(self, name: str, kind: ValueKind, value: str | None, unit: str = "", units: tuple[str, ...] = (),
              group: str = "") -> _Judgement:
        """The judgement of an unmanaged entry with no config rule (``units`` as the Entry holds them)."""
        info = analyze_name(name)
        key: tuple[object, ...] = (name, kind, value, unit, units, group) if info.kind == STRONG else (name, kind, value)
        j = self._seen.get(key)
        if j is None:
            if len(self._seen) >= self.MAX_CACHED:
                self._seen.clear()
            j = self._seen[key] = _judge_value(_Subject(name, unit, units, group), kind, value, self._plugins,
                                               info=info)
        return j

    def judge_literal(self, name: str, value: str, unit: str, group: str) -> _Judgement:
        """:meth:`judge` of a value written in the file (literal; empty when ``value`` is "") of an entry of
        one unit (``units == (unit,)``)."""
        info = analyze_name(name)
        key = (name, value, unit, group) if info.kind == STRONG else (name, value)
        j = self._lit.get(key)
        if j is None:
            if len(self._lit) >= self.MAX_CACHED:
                self._lit.clear()
            j = self._lit[key] = _judge_value(_Subject(name, unit, (unit,), group),
                                              _LITERAL if value else _EMPTY, value, self._plugins, info=info)
        return j

    @staticmethod
    def never_secret(name: str, value: str) -> bool:
        """True when the judgement of a literal ``value`` under ``name`` is certainly not secret: a short
        plain value (no URL, template, pair or provider format fits in it) under a name that is neither a
        strong secret name nor a credential name (then only length, entropy or a format could tell, and
        none can at this length). A scan that reports only secrets skips such entries."""
        return 0 < len(value) < 16 and _name_never_secret(name) and _PLAIN.fullmatch(value) is not None

    def finding(self, entry: Entry, config: Config | None = None) -> Finding:
        """What :func:`classify` says of ``entry``."""
        if entry.managed:
            return Finding(entry, _NOT, H, ("already-managed",), False, "already a secrets reference")
        if config is not None:
            rule = config.match(entry)
            if rule is not None:
                verdict = _SECRET if rule.action == "force" else _NOT
                base = _judge(entry, self._plugins)
                return _finding(entry, _Judgement(verdict, H, (f"config:{rule.action}",), base.kind))
        return _finding(entry, self.judge(entry.name, entry.value_kind,
                                          entry.value.reveal() if entry.value is not None else None,
                                          entry.unit, entry.units, entry.group))

    @staticmethod
    def make_finding(entry: Entry, j: _Judgement) -> Finding:
        """The finding for ``entry`` judged ``j`` (by :meth:`judge` on the entry's own fields)."""
        return _finding(entry, j)


def classify(entries: Sequence[Entry], config: Config | None = None) -> list[Finding]:
    """One Finding per Entry, in the same order. Pure apart from detect-secrets' global settings,
    which are entered at most once and restored on return."""
    with Judge() as judge:
        return [judge.finding(entry, config) for entry in entries]


def iter_secret_findings(findings: Sequence[Finding]) -> Iterator[Finding]:
    return (f for f in findings if f.is_secret)
