#!/usr/bin/env bash
# bench/RESULTS.md = the latest section of each benchmark script, in order.
set -euo pipefail
cd "$(dirname "$0")"
{
  echo "# pdsim benchmark results"
  echo
  echo "Each section is written by its script (run by hand, see the section) and assembled here by"
  echo "\`bench/assemble-results.sh\`."
  for part in results-sim.md results-sidecar.md results-controller.md; do
    if [ -f "$part" ]; then echo; cat "$part"; fi
  done
} > RESULTS.md
