"""The service's subcommands: up, worker, web, replay, token create."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from tariq.config import load_settings
from tariq.services.launch import DEMO_SECONDS, resolved_settings


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
    worker = Worker(app, loglevel=args.loglevel, quiet=True)
    worker.execute_from_commandline()
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from aiohttp import web

    from dashboards.app import create_app

    settings = resolved_settings()
    port = args.port or settings.http_port
    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(name)s %(message)s")
    _use_uvloop()
    web.run_app(
        create_app(settings),
        host=settings.http_host,
        port=port,
        print=lambda _: print(f"tariq web listening on http://{settings.http_host}:{port}/"),
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


def cmd_token_create(args: argparse.Namespace) -> int:
    from tariq.adapters.db import create_pool, migrate
    from tariq.adapters.db.tokens import create_token

    settings = resolved_settings()
    if not settings.database_url:
        settings.require_urls()
    assert settings.database_url

    async def create() -> str:
        pool = await create_pool(settings.database_url or "", max_size=1)
        try:
            await migrate(pool)
            return await create_token(pool, args.role, args.hotel)
        finally:
            await pool.close()

    try:
        token = asyncio.run(create())
    except ValueError as exc:
        print(f"tariq token create: {exc}", file=sys.stderr)
        return 2
    print(f"{args.role} token{f' for hotel {args.hotel}' if args.hotel else ''}:")
    print(token)
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
    create.set_defaults(func=cmd_token_create)
