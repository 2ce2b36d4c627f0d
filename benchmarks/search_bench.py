"""Tool search on a large fleet: tokens saved by search mode, and recall@5 on labelled queries.

The catalogue is real servers' tools (tests/servers echo, paged, awkward; the demo fleet;
mcp-server-time, mcp-server-git and @modelcontextprotocol/server-everything, all connected through
one MCPManager) plus generated tools for 40 typical SaaS services, at least 500 in all. The
generated tools overlap on purpose (every service has "list", "create", "search" ... tools), like a
real fleet does.

Tokens are approximated as characters / 4 of the JSON the model would be sent (OpenAI Chat
Completions ``tools``). Recall@5 is, per query, the share of its relevant tools found in the top 5,
averaged over the queries; the queries are paraphrases, not tool names.

    .venv/bin/python benchmarks/search_bench.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from patchbay import MCPManager, Tool  # noqa: E402
from patchbay._invoke import CALL_SPEC, SEARCH_SPEC, ToolSpec, invoke  # noqa: E402
from patchbay.formats import tool_schema  # noqa: E402
from patchbay.search import ToolIndex  # noqa: E402

PY = sys.executable
BIN = Path(sys.executable).parent
SERVERS = ROOT / "tests" / "servers"
EXAMPLES = ROOT / "examples" / "servers"
EVERYTHING = ROOT / "tests/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js"


def real_fleet() -> dict[str, Any]:
    servers: dict[str, Any] = {
        "echo": {"command": PY, "args": [str(SERVERS / "echo.py")]},
        "paged": {"command": PY, "args": [str(SERVERS / "paged.py")]},
        "awkward": {"command": PY, "args": [str(SERVERS / "awkward.py")]},
        "notes": {"command": PY, "args": [str(EXAMPLES / "notes.py")]},
        "clock": {"command": PY, "args": [str(EXAMPLES / "clock.py")]},
        "calculator": {"command": PY, "args": [str(EXAMPLES / "calculator.py")]},
        "time": {"command": str(BIN / "mcp-server-time")},
        "git": {"command": str(BIN / "mcp-server-git"), "args": ["--repository", str(ROOT)]},
    }
    if EVERYTHING.exists():
        servers["everything"] = {"command": "node", "args": [str(EVERYTHING), "stdio"]}
    return {"settings": {"connect_timeout": 60}, "servers": servers}


# --------------------------------------------------------------------------- generated catalogue

# service -> (display name, {object: (what it is, [create/update fields])}, extra tools)
Extra = tuple[str, str, dict[str, str]]
SERVICES: dict[str, tuple[str, dict[str, tuple[str, list[str]]], list[Extra]]] = {
    "github": (
        "GitHub",
        {
            "issue": ("an issue (bug report or task) in a repository", ["repo", "title", "body", "labels"]),
            "pull_request": (
                "a pull request proposing changes from a branch",
                ["repo", "title", "head", "base"],
            ),
            "repository": ("a code repository", ["name", "private", "description"]),
            "release": ("a tagged release of a repository", ["repo", "tag", "notes"]),
            "workflow_run": ("a GitHub Actions workflow run (CI)", ["repo", "workflow"]),
        },
        [
            (
                "merge_pull_request",
                "Merge a pull request into its base branch.",
                {"repo": "owner/name", "number": "PR number"},
            ),
            (
                "get_file_contents",
                "Read a file's contents from a repository at a ref.",
                {"repo": "owner/name", "path": "file path"},
            ),
        ],
    ),
    "gitlab": (
        "GitLab",
        {
            "merge_request": ("a merge request in a project", ["project", "title", "source_branch"]),
            "pipeline": ("a CI/CD pipeline of a project", ["project", "ref"]),
            "project": ("a GitLab project", ["name", "visibility"]),
        },
        [
            (
                "retry_pipeline",
                "Retry the failed jobs of a pipeline.",
                {"project": "project id", "pipeline_id": "id"},
            )
        ],
    ),
    "jira": (
        "Jira",
        {
            "ticket": (
                "a Jira ticket (issue) in a project",
                ["project", "summary", "issue_type", "assignee"],
            ),
            "sprint": ("a sprint on a Scrum board", ["board", "name", "start_date", "end_date"]),
            "comment": ("a comment on a Jira ticket", ["ticket", "body"]),
        },
        [
            (
                "transition_ticket",
                "Move a Jira ticket to another workflow status (e.g. In Progress, Done).",
                {"ticket": "key", "status": "target status"},
            )
        ],
    ),
    "linear": (
        "Linear",
        {
            "issue": ("an issue in a Linear team", ["team", "title", "priority"]),
            "cycle": ("a cycle (iteration) of a team", ["team"]),
        },
        [],
    ),
    "slack": (
        "Slack",
        {
            "channel": ("a Slack channel", ["name", "is_private"]),
            "user": ("a member of the Slack workspace", ["email"]),
            "reminder": ("a Slack reminder", ["text", "time"]),
        },
        [
            (
                "post_message",
                "Send a message to a Slack channel or thread.",
                {"channel": "channel id", "text": "message text"},
            ),
            (
                "add_reaction",
                "Add an emoji reaction to a message.",
                {"channel": "channel id", "timestamp": "message ts", "emoji": "emoji name"},
            ),
            (
                "get_channel_history",
                "Read recent messages of a Slack channel.",
                {"channel": "channel id", "limit": "how many"},
            ),
        ],
    ),
    "discord": (
        "Discord",
        {
            "channel": ("a channel in a Discord server", ["guild", "name"]),
            "role": ("a role in a Discord server", ["guild", "name", "permissions"]),
        },
        [
            (
                "send_message",
                "Send a message to a Discord channel.",
                {"channel": "channel id", "content": "text"},
            )
        ],
    ),
    "gmail": (
        "Gmail",
        {
            "draft": ("an email draft", ["to", "subject", "body"]),
            "label": ("a Gmail label for organising mail", ["name", "color"]),
        },
        [
            (
                "send_email",
                "Send an email to one or more recipients.",
                {"to": "recipients", "subject": "subject line", "body": "email body"},
            ),
            (
                "search_emails",
                "Search the mailbox with Gmail search syntax (from:, subject:, has:attachment).",
                {"query": "search terms"},
            ),
            ("read_email", "Read one email message with its headers and body.", {"message_id": "id"}),
        ],
    ),
    "calendar": (
        "Google Calendar",
        {
            "event": ("a calendar event (meeting, appointment)", ["summary", "start", "end", "attendees"]),
            "calendar": ("a calendar", ["name", "timezone"]),
        },
        [
            (
                "find_free_time",
                "Find free time slots shared by several people's calendars.",
                {"attendees": "emails", "duration": "minutes"},
            )
        ],
    ),
    "drive": (
        "Google Drive",
        {
            "file": ("a file stored in Google Drive", ["name", "parent_folder", "mime_type"]),
            "folder": ("a Drive folder", ["name", "parent_folder"]),
        },
        [
            (
                "share_file",
                "Share a Drive file with someone (reader, commenter or writer).",
                {"file_id": "id", "email": "who", "role": "access level"},
            )
        ],
    ),
    "notion": (
        "Notion",
        {
            "page": ("a Notion page", ["parent", "title", "content"]),
            "database": ("a Notion database (table of pages)", ["parent", "title", "properties"]),
        },
        [
            (
                "query_database",
                "Query a Notion database with filters and sorts.",
                {"database_id": "id", "filter": "filter object"},
            )
        ],
    ),
    "confluence": (
        "Confluence",
        {
            "page": ("a wiki page in a Confluence space", ["space", "title", "body"]),
            "space": ("a Confluence space", ["key", "name"]),
        },
        [],
    ),
    "postgres": (
        "PostgreSQL",
        {
            "table": ("a database table", ["name", "columns"]),
            "index": ("an index on a table", ["table", "columns"]),
        },
        [
            (
                "run_query",
                "Run a read-only SQL query against the PostgreSQL database and return the rows.",
                {"sql": "SQL SELECT statement"},
            ),
            (
                "describe_table",
                "Show the columns, types and constraints of a table.",
                {"table": "table name"},
            ),
            (
                "explain_query",
                "Show the query plan (EXPLAIN ANALYZE) for a SQL statement.",
                {"sql": "statement"},
            ),
        ],
    ),
    "mysql": (
        "MySQL",
        {"table": ("a MySQL table", ["name", "columns"])},
        [("execute_sql", "Execute a SQL statement on the MySQL database.", {"sql": "statement"})],
    ),
    "mongodb": (
        "MongoDB",
        {
            "collection": ("a MongoDB collection", ["name"]),
            "document": ("a document in a collection", ["collection", "document"]),
        },
        [
            (
                "aggregate",
                "Run an aggregation pipeline on a collection.",
                {"collection": "name", "pipeline": "stages"},
            )
        ],
    ),
    "redis": (
        "Redis",
        {"key": ("a Redis key and its value", ["key", "value", "ttl"])},
        [("flush_database", "Delete every key in the current Redis database.", {})],
    ),
    "s3": (
        "Amazon S3",
        {
            "bucket": ("an S3 bucket", ["name", "region"]),
            "object": ("an object (file) in an S3 bucket", ["bucket", "key", "body"]),
        },
        [
            (
                "presign_url",
                "Create a temporary pre-signed download URL for an S3 object.",
                {"bucket": "name", "key": "object key", "expires": "seconds"},
            )
        ],
    ),
    "kubernetes": (
        "Kubernetes",
        {
            "pod": ("a pod running in the cluster", ["namespace", "image"]),
            "deployment": ("a deployment managing replicated pods", ["namespace", "image", "replicas"]),
            "namespace": ("a cluster namespace", ["name"]),
        },
        [
            (
                "get_pod_logs",
                "Fetch the logs of a pod's container.",
                {"namespace": "ns", "pod": "pod name", "tail": "lines"},
            ),
            (
                "scale_deployment",
                "Change the number of replicas of a deployment.",
                {"namespace": "ns", "deployment": "name", "replicas": "count"},
            ),
            (
                "rollout_restart",
                "Restart all pods of a deployment with a rolling update.",
                {"namespace": "ns", "deployment": "name"},
            ),
        ],
    ),
    "docker": (
        "Docker",
        {
            "container": ("a Docker container", ["image", "name", "ports"]),
            "image": ("a Docker image", ["tag"]),
            "volume": ("a Docker volume", ["name"]),
        },
        [
            (
                "build_image",
                "Build a Docker image from a Dockerfile.",
                {"context": "directory", "tag": "image tag"},
            )
        ],
    ),
    "ec2": (
        "AWS EC2",
        {
            "instance": ("a virtual machine instance", ["instance_type", "ami", "key_name"]),
            "security_group": ("a firewall security group", ["name", "rules"]),
        },
        [("reboot_instance", "Reboot an EC2 instance.", {"instance_id": "id"})],
    ),
    "stripe": (
        "Stripe",
        {
            "customer": ("a paying customer", ["email", "name"]),
            "invoice": ("an invoice billed to a customer", ["customer", "items", "due_date"]),
            "subscription": ("a recurring subscription to a price", ["customer", "price"]),
        },
        [
            (
                "create_refund",
                "Refund a charge, fully or partially.",
                {"charge": "charge id", "amount": "amount in cents"},
            ),
            ("get_balance", "Get the current account balance (available and pending funds).", {}),
        ],
    ),
    "shopify": (
        "Shopify",
        {
            "product": ("a product in the store catalogue", ["title", "price", "inventory"]),
            "order": ("a customer order", ["line_items", "customer"]),
        },
        [
            (
                "fulfill_order",
                "Mark an order as fulfilled and add tracking.",
                {"order_id": "id", "tracking_number": "number"},
            )
        ],
    ),
    "salesforce": (
        "Salesforce",
        {
            "lead": ("a sales lead", ["name", "company", "email"]),
            "opportunity": ("a sales opportunity (deal)", ["account", "amount", "stage"]),
            "account": ("a customer account (company)", ["name", "industry"]),
        },
        [("run_soql", "Run a SOQL query against Salesforce.", {"soql": "query"})],
    ),
    "hubspot": (
        "HubSpot",
        {
            "contact": ("a CRM contact (person)", ["email", "first_name", "last_name"]),
            "deal": ("a deal in the sales pipeline", ["name", "amount", "stage"]),
        },
        [],
    ),
    "zendesk": (
        "Zendesk",
        {"ticket": ("a customer support ticket", ["subject", "description", "requester", "priority"])},
        [
            (
                "add_internal_note",
                "Add a private internal note to a support ticket.",
                {"ticket_id": "id", "note": "text"},
            )
        ],
    ),
    "twilio": (
        "Twilio",
        {},
        [
            (
                "send_sms",
                "Send an SMS text message to a phone number.",
                {"to": "phone number", "body": "message"},
            ),
            (
                "make_call",
                "Place a phone call that plays a message.",
                {"to": "phone number", "message": "what to say"},
            ),
        ],
    ),
    "weather": (
        "Weather",
        {},
        [
            (
                "get_forecast",
                "Weather forecast (temperature, rain, wind) for the next days at a location.",
                {"location": "city or coordinates", "days": "how many days"},
            ),
            (
                "get_current_conditions",
                "Current weather conditions at a location.",
                {"location": "city or coordinates"},
            ),
            (
                "get_alerts",
                "Active severe weather alerts (storms, floods) for a region.",
                {"region": "state or area"},
            ),
        ],
    ),
    "maps": (
        "Maps",
        {},
        [
            ("geocode", "Turn a street address into latitude and longitude.", {"address": "address"}),
            (
                "reverse_geocode",
                "Turn latitude and longitude into a street address.",
                {"lat": "latitude", "lng": "longitude"},
            ),
            (
                "get_directions",
                "Driving, walking or transit directions and travel time between two places.",
                {"origin": "from", "destination": "to", "mode": "travel mode"},
            ),
            (
                "search_places",
                "Find places (restaurants, shops, ...) near a location.",
                {"query": "what", "location": "where"},
            ),
        ],
    ),
    "sentry": (
        "Sentry",
        {
            "issue": ("an error issue grouped from exceptions", ["project", "status"]),
            "release": ("a release of a project", ["project", "version"]),
        },
        [
            (
                "get_stack_trace",
                "Get the stack trace of the latest event of an error issue.",
                {"issue_id": "id"},
            )
        ],
    ),
    "datadog": (
        "Datadog",
        {
            "monitor": ("an alerting monitor", ["name", "query", "threshold"]),
            "dashboard": ("a metrics dashboard", ["title", "widgets"]),
        },
        [
            (
                "query_metrics",
                "Query time series metrics (CPU, latency, ...) over a time range.",
                {"query": "metric query", "from": "start", "to": "end"},
            )
        ],
    ),
    "pagerduty": (
        "PagerDuty",
        {"incident": ("an on-call incident", ["service", "title", "urgency"])},
        [
            ("get_oncall", "Who is on call now for an escalation policy.", {"policy": "escalation policy"}),
            ("acknowledge_incident", "Acknowledge an incident so it stops paging.", {"incident_id": "id"}),
        ],
    ),
    "spotify": (
        "Spotify",
        {"playlist": ("a playlist of tracks", ["name", "tracks"])},
        [
            ("play_track", "Start playing a song on the user's active device.", {"track": "track uri"}),
            ("search_music", "Search songs, albums and artists.", {"query": "terms"}),
        ],
    ),
    "youtube": (
        "YouTube",
        {"video": ("a YouTube video", ["title", "description", "privacy"])},
        [("get_transcript", "Get the transcript (captions) of a video.", {"video_id": "id"})],
    ),
    "todoist": (
        "Todoist",
        {
            "task": ("a to-do task", ["content", "due_date", "priority"]),
            "project": ("a project grouping tasks", ["name"]),
        },
        [("complete_task", "Mark a to-do task as done.", {"task_id": "id"})],
    ),
    "trello": (
        "Trello",
        {
            "card": ("a card on a Trello board", ["list", "name", "description"]),
            "board": ("a Trello board", ["name"]),
        },
        [("move_card", "Move a card to another list.", {"card_id": "id", "list_id": "target list"})],
    ),
    "airtable": (
        "Airtable",
        {"record": ("a record (row) in an Airtable table", ["base", "table", "fields"])},
        [],
    ),
    "figma": (
        "Figma",
        {"comment": ("a comment on a Figma design file", ["file", "message"])},
        [
            (
                "export_frames",
                "Export frames of a design file as PNG or SVG images.",
                {"file_key": "file", "format": "png or svg"},
            )
        ],
    ),
    "translate": (
        "Translation",
        {},
        [
            (
                "translate_text",
                "Translate text into another language.",
                {"text": "text", "target_language": "language code"},
            ),
            ("detect_language", "Detect which language a text is written in.", {"text": "text"}),
        ],
    ),
    "websearch": (
        "Web search",
        {},
        [
            (
                "web_search",
                "Search the web and return result links with snippets.",
                {"query": "search terms"},
            ),
            ("fetch_url", "Download a web page and return it as markdown.", {"url": "address"}),
        ],
    ),
    "pdf": (
        "PDF tools",
        {},
        [
            ("extract_text", "Extract the text of a PDF document.", {"path": "pdf file"}),
            (
                "merge_pdfs",
                "Combine several PDF files into one.",
                {"paths": "pdf files", "output": "result file"},
            ),
        ],
    ),
    "crypto": (
        "Crypto prices",
        {},
        [
            (
                "get_price",
                "Current price of a cryptocurrency such as bitcoin or ether.",
                {"symbol": "ticker", "currency": "quote currency"},
            )
        ],
    ),
}

VERBS = {
    "create": "Create a new {what} in {svc}.",
    "get": "Get one {what} from {svc} by its id.",
    "list": "List every {what} in {svc}, with optional filters and pagination.",
    "update": "Update the fields of an existing {what} in {svc}.",
    "delete": "Delete {what} from {svc}. This cannot be undone.",
    "search": "Search for {what} in {svc} by free-text query.",
}


def _schema(args: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": "string", "description": text} for name, text in args.items()},
        "required": list(args)[:1],
    }


def generated_tools() -> list[Tool]:
    tools = []
    for server, (display, objects, extras) in SERVICES.items():
        for obj, (what, fields) in objects.items():
            for verb, template in VERBS.items():
                plural = obj if obj.endswith("s") else obj + "s"
                name = f"{verb}_{plural}" if verb in ("list", "search") else f"{verb}_{obj}"
                args: dict[str, str] = {}
                if verb in ("get", "update", "delete"):
                    args[f"{obj}_id"] = f"the {obj.replace('_', ' ')} id"
                if verb in ("create", "update"):
                    args.update({field: field.replace("_", " ") for field in fields})
                if verb == "search":
                    args["query"] = "search terms"
                if verb in ("list", "search"):
                    args.update({"limit": "page size", "cursor": "page cursor"})
                description = template.format(what=what, svc=display)
                tools.append(_tool(server, name, description, args))
        for name, description, args in extras:
            tools.append(_tool(server, name, description, args))
    return tools


def _tool(server: str, name: str, description: str, args: dict[str, str]) -> Tool:
    return Tool(
        name=f"mcp__{server}__{name}",
        server=server,
        original_name=name,
        description=description,
        input_schema=_schema(args),
    )


# -------------------------------------------------------------------------------- labelled queries

# (query, relevant exposed names): paraphrases, as a user or an agent would put it.
QUERIES: list[tuple[str, set[str]]] = [
    # real servers
    ("what time is it in Tokyo right now", {"mcp__time__get_current_time", "mcp__clock__now"}),
    ("convert 3pm New York time to London time", {"mcp__time__convert_time"}),
    ("show me the recent commits", {"mcp__git__git_log"}),
    ("stage my modified files before committing", {"mcp__git__git_add"}),
    ("what have I changed that is not staged yet", {"mcp__git__git_diff_unstaged"}),
    ("start a new git branch for the feature", {"mcp__git__git_create_branch"}),
    ("is the working tree clean", {"mcp__git__git_status"}),
    ("unstage everything I added", {"mcp__git__git_reset"}),
    ("switch to the main branch", {"mcp__git__git_checkout"}),
    ("evaluate the arithmetic expression 3 * (4 + 5)", {"mcp__calculator__evaluate"}),
    ("divide 10 by 4", {"mcp__calculator__divide"}),
    ("write down a note about the meeting", {"mcp__notes__add_note"}),
    ("find my notes that mention coffee", {"mcp__notes__search_notes"}),
    ("sum of two numbers", {"mcp__everything__get-sum", "mcp__echo__add", "mcp__calculator__add"}),
    ("return a tiny test image", {"mcp__everything__get-tiny-image", "mcp__echo__image"}),
    ("print the server's environment variables", {"mcp__everything__get-env", "mcp__echo__env"}),
    ("compress a file with gzip", {"mcp__everything__gzip-file-as-resource"}),
    ("sleep for a few seconds while reporting progress", {"mcp__clock__sleep", "mcp__echo__slow"}),
    # generated services
    ("open a bug report on github", {"mcp__github__create_issue"}),
    ("which pull requests are open in the repo", {"mcp__github__list_pull_requests"}),
    ("merge PR 42", {"mcp__github__merge_pull_request"}),
    (
        "did the CI run fail on github actions",
        {"mcp__github__list_workflow_runs", "mcp__github__get_workflow_run"},
    ),
    ("rerun the failed gitlab pipeline", {"mcp__gitlab__retry_pipeline"}),
    ("move the jira ticket to done", {"mcp__jira__transition_ticket"}),
    ("post an update in the #general slack channel", {"mcp__slack__post_message"}),
    ("react with a thumbs up emoji to that message", {"mcp__slack__add_reaction"}),
    ("email the report to alice@example.com", {"mcp__gmail__send_email"}),
    ("find emails from my manager with attachments", {"mcp__gmail__search_emails"}),
    ("schedule a meeting with the team on Friday at 10", {"mcp__calendar__create_event"}),
    ("when are Bob and Carol both free for 30 minutes", {"mcp__calendar__find_free_time"}),
    ("give dave edit access to the budget spreadsheet in drive", {"mcp__drive__share_file"}),
    ("run a SQL select on the postgres database", {"mcp__postgres__run_query"}),
    ("what columns does the users table have", {"mcp__postgres__describe_table"}),
    ("why is this SQL query slow: show the query plan", {"mcp__postgres__explain_query"}),
    ("tail the logs of the api pod", {"mcp__kubernetes__get_pod_logs"}),
    ("scale the web deployment to 5 replicas", {"mcp__kubernetes__scale_deployment"}),
    ("build a docker image from the Dockerfile", {"mcp__docker__build_image"}),
    ("refund the customer's last charge", {"mcp__stripe__create_refund"}),
    ("how much money is in our stripe account", {"mcp__stripe__get_balance"}),
    ("cancel a customer's subscription", {"mcp__stripe__delete_subscription"}),
    ("text a reminder to +1 555 0100", {"mcp__twilio__send_sms"}),
    ("will it rain in Berlin this weekend", {"mcp__weather__get_forecast"}),
    ("how long does it take to drive from Lyon to Paris", {"mcp__maps__get_directions"}),
    ("latitude and longitude of 10 Downing Street", {"mcp__maps__geocode"}),
    ("show the stack trace of the latest sentry error", {"mcp__sentry__get_stack_trace"}),
    ("who is on call right now", {"mcp__pagerduty__get_oncall"}),
    ("acknowledge the pagerduty incident", {"mcp__pagerduty__acknowledge_incident"}),
    ("CPU usage over the last hour in datadog", {"mcp__datadog__query_metrics"}),
    ("translate this paragraph into German", {"mcp__translate__translate_text"}),
    ("what language is this text in", {"mcp__translate__detect_language"}),
    ("get the captions of a youtube video", {"mcp__youtube__get_transcript"}),
    ("mark my todo as done", {"mcp__todoist__complete_task"}),
    ("download this web page as markdown", {"mcp__websearch__fetch_url"}),
    ("pull the text out of a PDF", {"mcp__pdf__extract_text"}),
    ("bitcoin price in euros", {"mcp__crypto__get_price"}),
    ("add a private note to the support ticket", {"mcp__zendesk__add_internal_note"}),
]


# ----------------------------------------------------------------------------------- measurement


def tokens(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False)) // 4


def recall_at(index: ToolIndex, k: int) -> tuple[float, list[tuple[str, set[str], list[str]]]]:
    total = 0.0
    misses = []
    for query, relevant in QUERIES:
        top = [tool.name for tool, _ in index.search(query, k)]
        found = len(relevant & set(top)) / len(relevant)
        total += found
        if found < 1:
            misses.append((query, relevant, top))
    return total / len(QUERIES), misses


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=30, help="timing repetitions (default 30)")
    args = parser.parse_args()

    os.environ.setdefault("PATCHBAY_PYTHON", sys.executable)
    async with MCPManager(real_fleet()) as manager:
        down = {name: s["error"] for name, s in manager.status().items() if s["state"] != "ready"}
        if down:
            print(f"servers not ready: {down}", file=sys.stderr)
            return 1
        real = manager.tools()
        catalogue = real + generated_tools()
        names = [tool.name for tool in catalogue]
        assert len(names) == len(set(names)), "duplicate tool names in the benchmark catalogue"
        unknown = {name for _, relevant in QUERIES for name in relevant} - set(names)
        assert not unknown, f"labels name tools that do not exist: {sorted(unknown)}"

        builds = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            index = ToolIndex(catalogue)
            builds.append(time.perf_counter() - started)
        searches = []
        for _ in range(args.repeat):
            for query, _ in QUERIES:
                started = time.perf_counter()
                index.search(query, 5)
                searches.append(time.perf_counter() - started)

        all_tokens = tokens([tool_schema(ToolSpec.of(tool), "openai") for tool in catalogue])
        meta_tokens = tokens([tool_schema(SEARCH_SPEC, "openai"), tool_schema(CALL_SPEC, "openai")])
        # What one search costs the model: the JSON the meta-tool returns for a top-5 search (real code path).
        result_tokens = []
        for query, _ in QUERIES:
            hits = [tool for tool, _ in index.search(query, 5)]
            result_tokens.append(tokens({"tools": [ToolSpec.of(t).__dict__ for t in hits]}))
        live = await invoke(manager, "patchbay_search_tools", {"query": "current time in a timezone"})
        assert not live.is_error

        recall5, misses5 = recall_at(index, 5)
        recall1, _ = recall_at(index, 1)
        recall10, _ = recall_at(index, 10)

    search_turn = meta_tokens + statistics.median(result_tokens)
    print(
        f"catalogue: {len(catalogue)} tools ({len(real)} from {len(real_fleet()['servers'])} real servers, "
        f"{len(catalogue) - len(real)} generated over {len(SERVICES)} services)"
    )
    print(f"labelled queries: {len(QUERIES)}")
    print()
    print("tokens (characters / 4, OpenAI Chat Completions tool JSON):")
    print(f"  every tool definition, sent on every request : {all_tokens:>8,}")
    print(f"  search mode: the two meta-tool definitions   : {meta_tokens:>8,}")
    print(f"  one top-5 search result (median)             : {statistics.median(result_tokens):>8,.0f}")
    print(f"  search mode per request incl. one search     : {search_turn:>8,.0f}")
    print(
        f"  saved per request                            : {all_tokens - search_turn:>8,.0f} "
        f"({(1 - search_turn / all_tokens) * 100:.1f} %, {all_tokens / search_turn:.0f}x fewer)"
    )
    print()
    print(f"recall@1  = {recall1:.3f}")
    print(f"recall@5  = {recall5:.3f}")
    print(f"recall@10 = {recall10:.3f}")
    print()
    print(f"index build: median {median_us(builds) / 1000:.1f} ms over {args.repeat} builds")
    print(f"search (top 5): median {median_us(searches):.0f} µs over {len(searches)} searches")
    if misses5:
        print()
        print("queries whose relevant tools were not all in the top 5:")
        for query, relevant, top in misses5:
            print(f"  {query!r}: wanted {sorted(relevant)}, got {top}")
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
