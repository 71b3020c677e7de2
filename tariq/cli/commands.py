"""The service's subcommands: up, worker, web, replay, token create/list/revoke, pilgrim link."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from tariq import logs
from tariq.config import load_settings
from tariq.services.launch import DEMO_SECONDS, resolved_settings

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def cmd_worker(args: argparse.Namespace) -> int:
    from faust.worker import Worker

    from stream.app import create_app
    from tariq.adapters.kafka import ensure_topics

    settings = resolved_settings()
    _use_uvloop()
    asyncio.run(ensure_topics(settings))
    asyncio.set_event_loop(asyncio.new_event_loop())
    app = create_app(settings)
    worker = Worker(
        app, loglevel=args.loglevel, quiet=True, logging_config=logs.dict_config(args.loglevel)
    )
    # No start-up spinner: faust's handler for it sets the root logger to DEBUG for good,
    # and every aiokafka debug record was then built and formatted for nothing (5% of an
    # ingesting worker's CPU at 2,000 events/s, py-spy).
    worker.spinner = None
    worker.execute_from_commandline()
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from aiohttp import web

    from dashboards.app import create_app

    settings = resolved_settings()
    port = args.port or settings.http_port
    logs.setup(args.loglevel)
    # No token in any log line: `?token=` of a websocket URL, in the access log or in the
    # "bad request" error that quotes a malformed request line.
    logs.install_log_redaction()
    _use_uvloop()
    web.run_app(
        create_app(settings),
        host=settings.http_host,
        port=port,
        print=lambda _: print(f"tariq web listening on http://{settings.http_host}:{port}/"),
        # Our access log is the `tariq.access` logger (dashboards/metrics.py): route and
        # path, never the query string; aiohttp's own would print `?token=`.
        access_log=None,
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from tariq.services.replay import OversizeLines, replay

    path = Path(args.file)
    if not path.is_file():
        print(f"tariq replay: no such file: {path}", file=sys.stderr)
        return 2
    settings = resolved_settings()
    settings.require_urls()
    started = time.perf_counter()
    status = 0
    try:
        sent = asyncio.run(replay(settings, path, speed=args.speed, progress=not args.quiet))
    except OversizeLines as exc:
        print(f"tariq replay: {exc}; not sent", file=sys.stderr)
        sent, status = exc.sent, 1
    elapsed = time.perf_counter() - started
    print(f"sent {sent} events in {elapsed:.1f} s ({sent / max(elapsed, 1e-9):,.0f}/s)")
    return status


def _token_store(run: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run `run` against the configured database (migrated), as `tariq up` set it up."""
    from tariq.adapters.db import create_pool, migrate

    settings = resolved_settings()
    if not settings.database_url:
        settings.require_urls()
    url = settings.database_url or ""

    async def main() -> T:
        pool = await create_pool(url, max_size=1)
        try:
            await migrate(pool)
            return await run(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


def cmd_token_create(args: argparse.Namespace) -> int:
    from tariq.adapters.db.tokens import create_token
    from tariq.domain.tokens import check_role, parse_lifetime

    try:
        lifetime = parse_lifetime(args.expires) if args.expires else None
        check_role(args.role, args.hotel, args.vehicle)
    except ValueError as exc:
        print(f"tariq token create: {exc}", file=sys.stderr)
        return 2
    token = _token_store(
        lambda pool: create_token(
            pool, args.role, args.hotel, vehicle_id=args.vehicle, lifetime=lifetime
        )
    )
    about = [
        f"for hotel {args.hotel}" if args.hotel else "",
        f"bound to vehicle {args.vehicle}" if args.vehicle else "",
        f"expiring in {args.expires}" if args.expires else "",
    ]
    print(" ".join([f"{args.role} token", *filter(None, about)]) + ":")
    print(token)
    return 0


def _with_database(work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run `work` against the service's database (migrated), as a running `tariq up` sees it."""
    from tariq.adapters.db import create_pool, migrate

    settings = resolved_settings()
    if not settings.database_url:
        settings.require_urls()

    async def run() -> T:
        pool = await create_pool(settings.database_url or "", max_size=1)
        try:
            await migrate(pool)
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(run())


def cmd_pilgrim_link(args: argparse.Namespace) -> int:
    from tariq.adapters.db.links import create_link
    from tariq.services.pages import pilgrim_page_url

    link = _with_database(lambda pool: create_link(pool, args.pilgrim_id))
    if link is None:
        print(f"tariq pilgrim link: no pilgrim {args.pilgrim_id}", file=sys.stderr)
        return 1
    settings = resolved_settings()
    fallback = f"http://{settings.http_host}:{settings.http_port}"
    print(f"the page of pilgrim {args.pilgrim_id} (keep it private; revoke with")
    print(f"`tariq pilgrim revoke-link {args.pilgrim_id}`):")
    print(pilgrim_page_url(fallback, link))
    return 0


def cmd_pilgrim_revoke(args: argparse.Namespace) -> int:
    from tariq.adapters.db.links import revoke_links

    revoked = _with_database(lambda pool: revoke_links(pool, args.pilgrim_id))
    print(f"revoked {revoked} link{'' if revoked == 1 else 's'} of pilgrim {args.pilgrim_id}")
    return 0


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"


def cmd_token_list(args: argparse.Namespace) -> int:
    from tariq.adapters.db.tokens import list_tokens

    rows = _token_store(list_tokens)
    header = ("id", "role", "hotel", "vehicle", "created", "expires", "revoked")
    table = [header] + [
        (
            r["token_id"],
            r["role"],
            r["hotel_id"] or "-",
            r["vehicle_id"] or "-",
            _when(r["created_at"]),
            _when(r["expires_at"]),
            _when(r["revoked_at"]),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from tariq.adapters.db.tokens import revoke_token

    outcome = _token_store(lambda pool: revoke_token(pool, args.id))
    if outcome is None:
        print(f"tariq token revoke: no token with id {args.id}", file=sys.stderr)
        return 2
    print(f"token {args.id} {outcome}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from tariq.cli.up import run_up

    return run_up(load_settings(), demo=args.demo, demo_speed=args.demo_speed, port=args.port)


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = subparsers.add_parser(
        "up",
        help="start the whole service on this machine",
        description="Start broker, Redis and PostgreSQL (embedded, unless TARIQ_*_URL are set), "
        "a stream worker and the web server; print the dashboard URL and an operator token. "
        "Ctrl-C stops everything it started.",
    )
    up.add_argument("--demo", action="store_true", help="replay the bundled demo scenario")
    up.add_argument(
        "--demo-speed",
        type=float,
        default=None,
        help=f"event seconds per second for the demo (default: the whole demo in "
        f"{DEMO_SECONDS:.0f} s)",
    )
    up.add_argument("--port", type=int, default=None, help="HTTP port (default TARIQ_HTTP_PORT)")
    up.set_defaults(func=cmd_up)

    worker = subparsers.add_parser("worker", help="run one stream worker")
    worker.add_argument("--loglevel", default="warning")
    worker.set_defaults(func=cmd_worker)

    webp = subparsers.add_parser("web", help="run one web server")
    webp.add_argument("--port", type=int, default=None, help="HTTP port (default TARIQ_HTTP_PORT)")
    webp.add_argument("--loglevel", default="info")
    webp.set_defaults(func=cmd_web)

    rep = subparsers.add_parser("replay", help="send a replay file's events into the service")
    rep.add_argument("file", help="JSON Lines file of contract events")
    rep.add_argument(
        "--speed",
        type=float,
        default=None,
        help="event-time seconds per wall second (60 = an hour a minute); default: flat out",
    )
    rep.add_argument("--quiet", action="store_true", help="no progress bar")
    rep.set_defaults(func=cmd_replay)

    token = subparsers.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION")
    token_sub.required = True
    create = token_sub.add_parser("create", help="print a new token (alone on the last line)")
    create.add_argument("--role", required=True, choices=("operator", "hotel", "device"))
    create.add_argument("--hotel", default=None, help="the hotel id of a hotel token")
    create.add_argument(
        "--vehicle", default=None, help="bind a device token to this vehicle (its positions only)"
    )
    create.add_argument(
        "--expires", default=None, help="lifetime: 30d, 12h, 90m, 2w, 45s (default: no expiry)"
    )
    create.set_defaults(func=cmd_token_create)
    listing = token_sub.add_parser("list", help="list tokens (never their secrets)")
    listing.set_defaults(func=cmd_token_list)
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id, at once")
    revoke.add_argument("id", help="the token's id, as `tariq token list` shows it")
    revoke.set_defaults(func=cmd_token_revoke)

    pilgrim = subparsers.add_parser("pilgrim", help="pilgrims' own pages")
    pilgrim_sub = pilgrim.add_subparsers(dest="pilgrim_command", metavar="ACTION")
    pilgrim_sub.required = True
    link = pilgrim_sub.add_parser(
        "link", help="print a new link to the pilgrim's page (the URL alone on the last line)"
    )
    link.add_argument("pilgrim_id")
    link.set_defaults(func=cmd_pilgrim_link)
    revoke = pilgrim_sub.add_parser("revoke-link", help="revoke every link to the pilgrim's page")
    revoke.add_argument("pilgrim_id")
    revoke.set_defaults(func=cmd_pilgrim_revoke)
