"""Rewrite the compiled artifacts committed beside the Vyper sources (``contracts/*.json``,
``contracts/attacks/*.json``).

Run after editing a contract: ``.venv/bin/python scripts/compile_contracts.py``. The test
``tests/contracts/test_artifacts.py`` fails while an artifact is stale.
"""

from __future__ import annotations

import json

from contracts import artifact_path, compile_source, contract_names
from sim.paths import atomic_write


def main() -> None:
    for name in contract_names():
        compiled = compile_source(name)
        text = json.dumps(compiled.artifact(), indent=1, sort_keys=True) + "\n"
        atomic_write(artifact_path(name), text)
        print(f"{artifact_path(name)}: {compiled.runtime_size} bytes of runtime code")


if __name__ == "__main__":
    main()
