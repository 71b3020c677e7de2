"""The service's subcommands: up, worker, web, replay, token create."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from tariq.config import Settings, load_settings

DEMO_FILE = Path(__file__).resolve().parent.parent / "simulators" / "data" / "demo.jsonl"
DEMO_SECONDS = 180.0


def resolved_settings() -> Settings:
    """Settings from the environment; unset URLs are taken from a running `tariq up`."""
    settings = load_settings()
    if settings.kafka_url and settings.redis_url and settings.database_url:
        return settings
    from tariq.local import find_running_services

    running = find_running_services(settings.data_dir) or {}
    return replace(
        settings,
        kafka_url=settings.kafka_url or running.get("kafka_url"),
        redis_url=settings.redis_url or running.get("redis_url"),
        database_url=settings.database_url or running.get("database_url"),
    )


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def cmd_worker(args: argparse.Namespace) -> int:
    from faust.worker import Worker

    from stream.app import create_app
    from tariq.kafka import ensure_topics

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
    from tariq.replay import replay

    path = Path(args.file)
    if not path.is_file():
        print(f"tariq replay: no such file: {path}", file=sys.stderr)
        return 2
    settings = resolved_settings()
    settings.require_urls()
    started = time.perf_counter()
    sent = asyncio.run(replay(settings, path, speed=args.speed, progress=not args.quiet))
    elapsed = time.perf_counter() - started
    print(f"sent {sent} events in {elapsed:.1f} s ({sent / max(elapsed, 1e-9):,.0f}/s)")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from tariq.auth import create_token
    from tariq.db import create_pool, migrate

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
    from tariq.up import run_up

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


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TARIQ_KAFKA_URL": settings.kafka_url or "",
            "TARIQ_REDIS_URL": settings.redis_url or "",
            "TARIQ_DATABASE_URL": settings.database_url or "",
            "TARIQ_DATA_DIR": str(settings.data_dir),
            "TARIQ_HTTP_PORT": str(settings.http_port),
        }
    )
    return env


def spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tariq.cli", *command], env=env)


def wait_healthy(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the web server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
