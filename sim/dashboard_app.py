"""The page Solara serves for ``baasim dashboard`` (``SOLARA_APP=sim.dashboard_app:page``).

Solara imports this module in the server process; ``baasim dashboard`` passes the scenario,
seed, overrides and seconds per step in the ``BAASIM_DASHBOARD`` environment variable (JSON),
and the page is built from them on import.
"""

from __future__ import annotations

import json
import os

from sim.cli.dashboard import ENV
from sim.dashboard import build_page

_config = json.loads(os.environ.get(ENV, "{}"))
page = build_page(
    _config.get("scenario", ""),
    seed=int(_config.get("seed", 0)),
    overrides=tuple(_config.get("overrides", ())),
    step_s=float(_config.get("step_s", 600.0)),
)
