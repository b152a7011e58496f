"""``baasim dashboard FILE``: watch a run in the browser (Mesa's SolaraViz, on Solara).

Serves ``sim.dashboard_app`` with uvicorn on 127.0.0.1 (``--host`` to change it) and prints
the address once the server is up. Mesa's visualisation and Solara are the optional
``dashboard`` extra: without them the command says how to install them.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from sim.cli.options import add_set_option
from sim.errors import ConfigError

ENV = "BAASIM_DASHBOARD"
"""The environment variable that passes the run's settings to the page (JSON)."""
INSTALL = "pip install 'baasim[dashboard]'  (Mesa's visualisation: mesa[rec]==3.3.1, Solara)"


def register(sub: Any) -> None:
    p = sub.add_parser("dashboard", help="watch a run live in the browser (Mesa SolaraViz)")
    p.add_argument("file", help="scenario TOML file (see scenarios/)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the first of run.seeds)")
    add_set_option(p, "override a scenario value (TOML syntax), e.g. --set tasks[0].mafr=0.9")
    p.add_argument("--step", type=float, default=600.0, help="simulated seconds per step (600)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (8765; 0 picks a free one)")
    p.set_defaults(func=run)


def require_visualisation() -> None:
    """ConfigError with the install command when Mesa's visualisation cannot be imported."""
    try:
        import mesa.visualization  # noqa: F401
        import solara.server.settings  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise ConfigError(
            f"the dashboard needs Mesa's visualisation, which is not installed ({err}); "
            f"install it with: {INSTALL}"
        ) from None


def run(args: argparse.Namespace) -> int:
    from sim.runner import resolve

    # before Solara is imported: Mesa 3.3's SolaraViz breaks a rule of hooks Solara checks
    # on every render (harmlessly), and the page's assets come from the solara-assets
    # package on disk, never from a CDN
    os.environ.setdefault("SOLARA_CHECK_HOOKS", "off")
    require_visualisation()
    scenario = resolve(args.file, args.overrides)  # a bad file or --set fails here, not in the page
    seed = scenario.run.seeds[0] if args.seed is None else args.seed
    if seed < 0:
        raise ConfigError(f"--seed: expected a non-negative integer, got {seed}")
    if args.step <= 0:
        raise ConfigError(f"--step: expected a positive number of seconds, got {args.step}")
    port = args.port or _free_port(args.host)
    os.environ[ENV] = json.dumps(
        {
            "scenario": str(Path(args.file).resolve()),
            "seed": seed,
            "overrides": args.overrides,
            "step_s": args.step,
        }
    )
    serve(args.host, port)
    return 0


def serve(host: str, port: int) -> None:
    """Run the Solara server on ``host:port`` until interrupted; print the address when up."""
    import uvicorn
    from solara.server import settings

    os.environ["SOLARA_APP"] = "sim.dashboard_app:page"
    settings.main.mode = "production"  # no reloading of our modules while a run is live
    settings.telemetry.mixpanel_enable = False  # nothing leaves the machine
    config = uvicorn.Config(
        "solara.server.starlette:app", host=host, port=port, log_level="warning"
    )
    server = uvicorn.Server(config)

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.1)
        if server.started:
            print(f"baasim dashboard: http://{host}:{port}/ (Ctrl-C stops it)", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
