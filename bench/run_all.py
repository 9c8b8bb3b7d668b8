"""Run every benchmark in turn and print the markdown for bench/RESULTS.md (takes ~20 minutes)."""

from __future__ import annotations

import contracts
import full_graph
import load_time
import recovery
import scale_out
import serving

if __name__ == "__main__":
    for module in (load_time, contracts, full_graph, serving, recovery, scale_out):
        print(module.main(), end="\n\n", flush=True)
