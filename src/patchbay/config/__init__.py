"""Which MCP servers to run and how to treat them: models, file formats, layering, ``${VAR}`` expansion.

Two file shapes are read, each in YAML or JSON. The format is told apart by content, not by the
file extension, so ``.mcp.json`` files written by other tools can be used as they are:

* patchbay's own::

      servers:
        git: {command: uvx, args: [mcp-server-git]}
        remote: {url: "https://example.com/mcp", headers: {Authorization: "Bearer ${TOKEN}"}}
      settings:
        timeout: 20

* the ``mcpServers`` shape written by Claude Desktop, Claude Code (``.mcp.json``) and Cursor::

      {"mcpServers": {"git": {"command": "uvx", "args": ["mcp-server-git"]},
                      "remote": {"type": "http", "url": "https://example.com/mcp"}}}

  A file with both keys gets the servers from both, ``mcpServers`` first; a name defined under both
  is an error because neither reading would be obviously right. Such a file belongs to another
  application, so its other top-level keys are ignored without a warning.

``type`` is an alias of ``transport``. Without either, a ``command`` means stdio and a ``url``
means Streamable HTTP, except that a URL whose path ends in ``/sse`` means the legacy SSE transport
(that is what such URLs are in Claude Desktop-era configs).

Layering: ``load_config()`` with no paths reads the user file, then the project file
(``.patchbay/mcp.yaml`` in the working directory or a parent), then the file named by
``$PATCHBAY_CONFIG``. Explicit paths replace those defaults. A server defined in a later file
replaces the earlier definition whole, because a half-merged entry (one file's ``command`` with
another file's ``args``) is hard to debug. Settings merge key by key for exactly the keys each file
writes, so a later file can set a value back to its default.

``${VAR}`` and ``${VAR:-default}`` are expanded in ``command``, ``args``, ``env`` values, ``cwd``,
``url``, ``headers`` values and the ``auth`` credentials (``client_id``, ``client_secret``,
``private_key``), and nowhere else. ``$$`` is a literal ``$``. A variable that is not
set fails only its own server (``ServerConfig.error``), not the whole file, because one missing
token should not take the rest of the fleet down. One variable is always set:
``${PATCHBAY_PYTHON}`` is the interpreter running patchbay (``sys.executable``) unless the
environment sets it, so a Python server written against the installed SDK (``command:
${PATCHBAY_PYTHON}``) runs wherever patchbay does: a venv that is not activated, pipx, uv tool.

``roots:`` (per server, or in ``settings`` for all) lists directories offered to servers that ask for
roots; a path is made absolute and becomes a ``file://`` URI. ``auth: oauth`` (or a mapping with
``client_id``, ``client_secret``, ``scopes``, ``client_metadata_url``, ``callback_port``) makes an
HTTP/SSE server authorise with OAuth (see ``patchbay.auth``).

Unknown keys give a ``ConfigWarning`` naming the file and key path, not a failure, so a typo is
visible but a newer file still loads. Claude/Cline conventions are understood: ``disabled: true``,
``disabledTools`` (as ``exclude_tools``); ``alwaysAllow``/``autoApprove``/``watchPaths`` are
client-side approval settings and are skipped silently.

Secret values (``env`` and ``headers`` values, and URLs, which often embed an API key) never appear
in an error, a warning or a ``repr``.

The package, one job a module, imported one way (each imports only those above it):

* ``_models``: the pydantic models and the value checks they share with the parser;
* ``_read``: a file's bytes into plain data (JSON or YAML, duplicate keys, bounded cost);
* ``_expand``: the ``${VAR}`` grammar and its one reader;
* ``_discover``: where the user, project and ``$PATCHBAY_CONFIG`` files are;
* ``_parse``: one file's data into models, with problems at the key path as written;
* ``_layers``: ``load_config``, the merge of the layers, ``Config``, and ``diff_servers`` (for reload).
"""

from __future__ import annotations

from patchbay.errors import ConfigError as ConfigError

from ._discover import ENV_VAR as ENV_VAR
from ._discover import PROJECT_CONFIG as PROJECT_CONFIG
from ._discover import default_config_paths, files_to_watch, find_project_config, user_config_path
from ._expand import PYTHON_VARIABLE as PYTHON_VARIABLE
from ._expand import references
from ._layers import Config, ServerChanges, diff_servers, load_config
from ._models import (
    ConfigWarning,
    EffectiveServer,
    Layer,
    OAuthConfig,
    ProjectSettings,
    Protocol,
    ReconnectSettings,
    RootEntry,
    ServerConfig,
    Settings,
    Transport,
)
from ._parse import CALLER_CWD as CALLER_CWD
from ._read import MAX_FILE_BYTES as MAX_FILE_BYTES
from ._read import load_json, parse_text, read_text

__all__ = [
    "Config",
    "ConfigWarning",
    "EffectiveServer",
    "Layer",
    "OAuthConfig",
    "ProjectSettings",
    "Protocol",
    "ReconnectSettings",
    "RootEntry",
    "ServerChanges",
    "ServerConfig",
    "Settings",
    "Transport",
    "default_config_paths",
    "diff_servers",
    "files_to_watch",
    "find_project_config",
    "load_config",
    "load_json",
    "parse_text",
    "read_text",
    "references",
    "user_config_path",
]
