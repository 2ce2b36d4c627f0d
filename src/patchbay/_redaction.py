"""Keep configured secrets out of log records, whoever writes them.

Error messages are redacted where they are built (``Connection._redact``), but two log sources
print text patchbay does not compose: a stdio server's stderr (a server may echo its ``API_KEY``)
and the HTTP client's request log (``POST https://host/mcp?key=...``). A filter on those loggers
replaces every secret value of every live connection with ``***`` before any handler sees it.
"""

from __future__ import annotations

import logging
import os
import re
import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

from .transports import SAFE_ENV_NAMES

if TYPE_CHECKING:
    from .config import ServerConfig

__all__ = [
    "argument_secrets",
    "guard_loggers",
    "mask_url",
    "redact",
    "register_secrets",
    "server_secrets",
    "url_secrets",
]

# Shorter values are too likely to be ordinary words or numbers to be worth hiding.
_MIN_LENGTH = 4
# Loggers that print request URLs; a server's own logger is guarded when it registers.
_HTTP_LOGGERS = ("httpx2", "httpx")
# Variables whose values are paths and names, not secrets: ``${HOME}/bin`` in args stays readable.
_NOT_SECRET = frozenset({*SAFE_ENV_NAMES, "PWD"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*\Z")  # RFC 3986


def normalise_secrets(secrets: Iterable[str]) -> list[str]:
    """Unique values worth hiding, longest first, so masking leaves no partial leftovers."""
    return sorted({s for s in secrets if len(s) >= _MIN_LENGTH}, key=len, reverse=True)


def argument_secrets(written: Iterable[object], environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of the ``${VAR}`` references in a command line as written (``--token ${TOKEN}``).

    A server that rejects its key at start-up often prints it; its stderr tail ends up in the
    error message, so these values are redacted like env and header values.
    """
    from .config import references  # pydantic: only a connection, which has it loaded, asks

    env = os.environ if environ is None else environ
    found: list[str] = []
    for item in written:
        if isinstance(item, str):
            for name in references(item):
                value = env.get(name)
                if value and name not in _NOT_SECRET:
                    found.append(value)
    return found


def mask_url(url: str) -> str:
    """``url`` for display: host and path kept; credentials and every value masked as ``***``.

    Values are masked in the query (``?key=***``) and in the fragment too, which is never sent to
    the server but can hold a token (OAuth implicit grant: ``#access_token=***``). A query or
    fragment item without ``=`` could be a bare token, so it is masked whole. A URL that does not
    parse (``http://[::1``) keeps only its scheme: showing it unmasked could leak, raising would
    turn a display into a failure.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        scheme, sep, _ = url.partition("://")
        return f"{scheme}://***" if sep and _SCHEME.match(scheme) else "***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        # With a password the user name is a name; alone (``https://<token>@host``, or a key with an
        # empty password as some APIs take it) it is the secret.
        netloc = f"{user}:***@{host}" if password else f"***@{host}"
    return urlunsplit(
        (parts.scheme, netloc, parts.path, _mask_items(parts.query), _mask_items(parts.fragment))
    )


def _mask_items(text: str) -> str:
    """``a=1&b`` -> ``a=***&***``: keys as written, every non-empty value hidden."""
    if not text:
        return text
    masked: list[str] = []
    for item in text.split("&"):
        key, has_value, value = item.partition("=")
        if not has_value:
            masked.append("***" if item else item)
        else:
            masked.append(f"{key}=***" if value else f"{key}=")
    return "&".join(masked)


def url_secrets(url: str | None) -> list[str]:
    """The values ``mask_url`` hides, as written and percent-decoded, for masking them in log text.

    The password, query values and fragment values, plus bare items (see ``mask_url``). A URL that
    does not parse yields the text after its scheme, so nothing of it is shown.
    """
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        rest = url.partition("://")[2]
        return [rest] if rest else [url]
    found: list[str] = []
    for text in (parts.query, parts.fragment):
        for item in text.split("&") if text else ():
            key, has_value, value = item.partition("=")
            found.append(value if has_value else key)
    if parts.password:
        found.append(parts.password)
    elif parts.username:
        found.append(parts.username)  # a user name alone is a token (see ``mask_url``)
    decoded = [decode(value) for value in found for decode in (unquote, unquote_plus)]
    return normalise_secrets([*found, *decoded])


class _SecretFilter(logging.Filter):
    """Rewrites a record's message with each registered secret replaced by ``***``."""

    def __init__(self) -> None:
        super().__init__("patchbay-secrets")
        self._by_owner: weakref.WeakKeyDictionary[object, tuple[str, ...]] = weakref.WeakKeyDictionary()

    def register(self, owner: object, secrets: Iterable[str]) -> None:
        values = tuple(normalise_secrets(secrets))
        if values:
            self._by_owner[owner] = values
        else:
            self._by_owner.pop(owner, None)

    def values(self) -> list[str]:
        return [secret for values in list(self._by_owner.values()) for secret in values]

    def redact(self, text: str) -> str:
        for values in list(self._by_owner.values()):
            for secret in values:
                if secret in text:
                    text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._by_owner:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_FILTER = _SecretFilter()


def guard_loggers(*names: str) -> None:
    """Redact registered secrets in records logged directly on these loggers (idempotent)."""
    for name in (*names, *_HTTP_LOGGERS):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def register_secrets(owner: object, secrets: Iterable[str]) -> None:
    """Hide ``secrets`` in guarded logs for as long as ``owner`` (a connection) is alive."""
    _FILTER.register(owner, secrets)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with ``secrets`` and every registered secret (OAuth tokens included) as ``***``.

    One longest-first pass over the union, so a secret inside a longer one leaves no leftovers.
    """
    for secret in normalise_secrets([*secrets, *_FILTER.values()]):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def server_secrets(config: ServerConfig) -> list[str]:
    """Every secret a server entry holds: env and header values, URL credentials and the values of
    ``${VAR}`` references in its command line as written."""
    written_args = config.raw.get("args")
    command_line = [config.raw.get("command"), *(written_args if isinstance(written_args, list) else ())]
    secrets = (
        *config.env.values(),
        *config.headers.values(),
        *url_secrets(config.url),
        *argument_secrets(command_line),
    )
    return normalise_secrets(secrets)
