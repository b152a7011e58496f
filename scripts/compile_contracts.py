"""Rewrite the compiled artifacts committed beside the Vyper sources (``contracts/*.json``).

Run after editing a contract: ``.venv/bin/python scripts/compile_contracts.py``. The test
``tests/contracts/test_artifacts.py`` fails while an artifact is stale.
"""

from __future__ import annotations

import json

from contracts import SOURCE_DIR, artifact_path, compile_source
from sim.paths import atomic_write


def main() -> None:
    for source in sorted(SOURCE_DIR.glob("*.vy")):
        compiled = compile_source(source.stem)
        text = json.dumps(compiled.artifact(), indent=1, sort_keys=True) + "\n"
        atomic_write(artifact_path(source.stem), text)
        print(f"{artifact_path(source.stem)}: {compiled.runtime_size} bytes of runtime code")


if __name__ == "__main__":
    main()
