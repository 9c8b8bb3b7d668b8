"""Run every benchmark in turn and print the markdown for bench/RESULTS.md (takes ~15 minutes)."""

from __future__ import annotations

import contracts
import full_graph
import load_time
import recovery
import serving

if __name__ == "__main__":
    for module in (load_time, contracts, full_graph, serving, recovery):
        print(module.main(), end="\n\n", flush=True)
