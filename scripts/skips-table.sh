#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prints the README's table of the cases each guest may skip, from the
# scenarios' SKIPS (scripts/scenarios/README), their one home. The test
# command compares it with docs/testing.md's copy between its skips markers.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

echo "| guest | cases | what it lacks |"
echo "|---|---|---|"
for sc in $(all_scenarios); do
	scenario_load "$sc" --no-kdir
	for s in "${SKIPS[@]}"; do
		printf '| `%s` | `%s` | %s |\n' "$sc" "${s%%|*}" "${s#*|}"
	done
done
