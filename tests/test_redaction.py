"""Secret handling helpers in-process: URL masking for display, URL and argument secrets for logs."""

from __future__ import annotations

import pytest

from patchbay._redaction import argument_secrets, mask_url, url_secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8000/mcp", "http://127.0.0.1:8000/mcp"),
        ("https://user:pw-secret@example.com/mcp", "https://user:***@example.com/mcp"),
        ("https://ghp_token123@example.com/mcp", "https://***@example.com/mcp"),
        ("https://sk_live_key:@example.com/mcp", "https://***@example.com/mcp"),
        ("https://u:p@ss@example.com:8443/mcp", "https://u:***@example.com:8443/mcp"),
        ("https://h/mcp?key=abc&x=1", "https://h/mcp?key=***&x=***"),
        ("https://h/mcp?api%20key=abc+def", "https://h/mcp?api%20key=***"),  # key as written
        ("https://h/mcp?sk-bare-token-123", "https://h/mcp?***"),  # a bare item could be the key
        ("https://h/mcp?key=&debug", "https://h/mcp?key=&***"),
        ("https://h/mcp#access_token=tok-123&state=xyz", "https://h/mcp#access_token=***&state=***"),
        ("https://h/mcp#bare-fragment-token", "https://h/mcp#***"),
        ("https://h/a/b/?q=1#f=2", "https://h/a/b/?q=***#f=***"),
        ("https://h/${TOKEN}/mcp?key=${KEY}", "https://h/${TOKEN}/mcp?key=***"),  # path kept as written
        ("http://[::1/mcp?key=abc", "http://***"),  # urlsplit raises ValueError: nothing of it is shown
        ("//[::1/mcp?key=abc", "***"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pw%2Bsecret@example.com/mcp?key=query%20secret&flag#access_token=frag-secret",
        "https://h/mcp?token=plus+secret+value",
        "https://h/mcp?bare-token-secret",
        "http://[::1/mcp?key=abc-secret",
    ],
)
def test_url_secrets_cover_everything_mask_url_hides(url: str) -> None:
    """Log masking and display masking hide the same parts, as written and percent-decoded."""
    secrets = url_secrets(url)
    assert secrets, url
    for secret in secrets:
        assert secret not in mask_url(url), (secret, url)
    assert secrets == sorted(secrets, key=len, reverse=True)  # longest first: no partial leftovers


def test_url_secrets_values() -> None:
    secrets = url_secrets("https://user:pw%2Bsecret@h/mcp?key=query%20secret&x=ab#access_token=frag-secret")
    assert {"pw%2Bsecret", "pw+secret", "query%20secret", "query secret", "frag-secret"} <= set(secrets)
    assert "ab" not in secrets  # too short to be worth hiding
    assert "user" not in secrets
    assert url_secrets("http://127.0.0.1:8000/mcp") == []
    assert url_secrets(None) == url_secrets("") == []
    assert "ghp_token123" in url_secrets("https://ghp_token123@h/mcp")  # a user name alone is a token
    assert sorted(url_secrets("https://h/mcp?token=plus+value")) == ["plus value", "plus+value"]


@pytest.mark.parametrize(
    ("written", "secrets"),
    [
        (["--token", "${TOK}"], ["tok-secret"]),
        (["--token=${TOK:-none}"], ["tok-secret"]),
        (["$$${TOK}"], ["tok-secret"]),  # "$" followed by the value: a reference
        (["$${TOK}"], []),  # the literal text ${TOK}: the value is never used
        (["$$$${TOK}"], []),
        (["${HOME}/bin", "${PATH}"], []),  # paths, not secrets
        (["${TOK", "${bad name}"], []),  # malformed: the server fails, nothing is expanded
        (["${UNSET:-x}", 42], []),
    ],
)
def test_argument_secrets_follow_the_expansion_grammar(written: list[object], secrets: list[str]) -> None:
    env = {"TOK": "tok-secret", "HOME": "/home/someone", "PATH": "/usr/bin:/bin"}
    assert argument_secrets(written, env) == secrets
