"""`teei privacy export|erase|status`: data-subject requests through the edge's privacy RPCs.

`export` and `erase` file a request for one person of the token's company (`--email` or `--profile-id`),
or for the caller themself (`--own`); `--request-id` makes a repeat the same request (it never runs
twice), `--wait` polls until the request settles and `--out FILE` writes an export's bundle there.
`status` shows one request (with `--out`, its bundle) or lists the company's. The token comes from
`--token` or TEEI_TOKEN (so it need not appear in the process list); the answer is printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

SETTLED = frozenset(
    {"PRIVACY_REQUEST_STATUS_COMPLETED", "PRIVACY_REQUEST_STATUS_FAILED", "PRIVACY_REQUEST_STATUS_EXPIRED"}
)
PATHS = {
    ("export", False): "/v1/privacy/subjects:export",
    ("erase", False): "/v1/privacy/subjects:delete",
    ("export", True): "/v1/privacy/export",
    ("erase", True): "/v1/privacy/delete",
}
REQUESTS = "/v1/privacy/requests"
POLL_SECONDS = 0.5


def register(commands: Any) -> None:
    """Adds the `privacy` command to the `teei` parser."""
    privacy = commands.add_parser("privacy", help="data-subject export and erasure requests")
    privacy.add_argument("--edge", default=os.environ.get("TEEI_EDGE_URL", "http://127.0.0.1:8080"))
    privacy.add_argument("--token", default=os.environ.get("TEEI_TOKEN"), help="access token (or TEEI_TOKEN)")
    actions = privacy.add_subparsers(dest="action", required=True)
    for name, text in (("export", "export a person's data"), ("erase", "erase a person's data")):
        action = actions.add_parser(name, help=text)
        who = action.add_mutually_exclusive_group(required=True)
        who.add_argument("--email", help="the person's e-mail, within the token's company")
        who.add_argument("--profile-id", help="the person's profile id, within the token's company")
        who.add_argument("--own", action="store_true", help="the caller's own data")
        action.add_argument("--reason", default="", help="e.g. the data-subject request reference")
        action.add_argument("--request-id", default="", help="repeat with the same id: the same request")
        action.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the request to settle")
        action.add_argument("--out", type=Path, help="write the export's bundle to this file")
        if name == "erase":
            action.add_argument("--yes", action="store_true", required=True, help="confirm the erasure")
    status = actions.add_parser("status", help="one request (with its bundle) or the company's requests")
    status.add_argument("request_id", nargs="?", help="the request; every request of the company when absent")
    status.add_argument("--out", type=Path, help="write the export's bundle to this file")
    privacy.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Runs one privacy action; prints the request(s) as JSON. Exit 1 when a waited-for request failed."""
    if not args.token:
        raise SystemExit("teei privacy needs --token or TEEI_TOKEN")
    headers = {"authorization": f"Bearer {args.token}"}
    with httpx.Client(base_url=args.edge, headers=headers, timeout=60.0) as client:
        if args.action == "status":
            return _status(client, args)
        answer = _file(client, args)
        request = answer["request"]
        if args.wait > 0:
            answer = _wait(lambda: _get(client, request["request_id"]), seconds=args.wait)
        return _show(answer, args.out)


def _file(client: httpx.Client, args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"request_id": args.request_id or str(uuid.uuid4())}
    if args.reason:
        body["reason"] = args.reason
    if not args.own:
        body["subject"] = {"email": args.email} if args.email else {"profile_id": args.profile_id}
    if args.action == "erase":
        body["confirm"] = True
    return _answer(client.post(PATHS[(args.action, bool(args.own))], json=body))


def _status(client: httpx.Client, args: argparse.Namespace) -> int:
    if args.request_id:
        return _show(_get(client, args.request_id), args.out)
    token = ""
    while True:
        page = _answer(client.get(REQUESTS, params={"page_token": token} if token else {}))
        for request in page.get("requests", []):
            print(json.dumps(request, sort_keys=True))
        token = page.get("next_page_token", "")
        if not token:
            return 0


def _get(client: httpx.Client, request_id: str) -> dict[str, Any]:
    return _answer(client.get(f"{REQUESTS}/{request_id}"))


def _wait(fetch: Callable[[], dict[str, Any]], *, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    answer = fetch()
    while answer["request"].get("status") not in SETTLED and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)  # polling interval of a bounded wait
        answer = fetch()
    return answer


def _show(answer: dict[str, Any], out: Path | None) -> int:
    request = answer["request"]
    bundle = answer.get("bundle")
    if out is not None and bundle:
        out.write_text(json.dumps(bundle, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps(request, sort_keys=True))
    return 1 if request.get("status") == "PRIVACY_REQUEST_STATUS_FAILED" else 0


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise SystemExit(f"teei privacy: HTTP {response.status_code}: {response.text}")
    answer: dict[str, Any] = response.json()
    return answer
