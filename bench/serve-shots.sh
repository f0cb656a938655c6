#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The screenshots of docs/dashboard.md (docs/img/overview.png, label.png):
# a store of 40 days of made-up traffic for six labels (a daily wave with
# noise, a nightly backup burst, two classes on acme-web), nftally serve
# as of 2026-01-16 14:20 UTC with --bill max, and tests/integration/
# browser.py's screenshots in headless Chromium.  Not part of the test suite.
#   usage: bench/serve-shots.sh [OUTDIR]   (default docs/img)
set -u
cd "$(dirname "$0")/.."
mkdir -p "${1:-docs/img}"
OUTDIR=$(realpath "${1:-docs/img}")
NFTALLY=${NFTALLY:-$PWD/build/nftally}
BILLFILL=${BILLFILL:-$PWD/build/tests/billfill}
export NFTALLY BILLFILL
. tests/integration/lib.sh
. tests/integration/lib-serve.sh
need
B="${PFX}d"
serve_ns "$B" || exit 1
AT_D=$((T0 + 15 * 86400 + 14 * 3600 + 1234))
awk -v s=$((AT_D / 300 * 300 - 40 * 86400)) -v at=$AT_D 'BEGIN { srand(7)
	n = split("acme-web shop-eu vm-101 vm-102 backup-7 mail-1", L, " ")
	for (t = s + 300; t <= at; t += 300) {
		d = (t % 86400) / 86400.0
		for (i = 1; i <= n; i++) {
			w = 1.2 + sin(2 * 3.14159 * d + i * 0.7)
			v = (20000 * i * i + 100000) * w * (0.8 + 0.4 * rand())
			if (L[i] == "backup-7")
				v = (d > 0.08 && d < 0.16) ? 4000000 * (0.8 + 0.4 * rand()) : 2000 * rand()
			o = v * (0.3 + 0.2 * i / n)
			if (L[i] == "acme-web") {
				printf "%d %s 198.18.1.1 %d %d web\n", t, L[i], v * 0.7, o * 2
				printf "%d %s 198.18.1.1 %d %d other\n", t, L[i], v * 0.3, o * 0.5
				printf "%d %s 198.18.1.2 %d %d other\n", t, L[i], v * 0.2, o * 0.4
			} else {
				printf "%d %s 198.18.%d.1 %d %d\n", t, L[i], 2 + i, v, o
			}
		}
	}
}' > "$WORK/demo.txt"
"$BILLFILL" "$WORK/demo.db" node1 < "$WORK/demo.txt" || exit 1
printf 'store = %s\nstate_dir = %s\ntargets = %s/none\ntimezone = UTC\nquotas = %s/quotas\n' \
	"$WORK/demo.db" "$WORK" "$WORK" "$WORK" > "$WORK/demo.conf"
printf '%s\n' "acme-web 2GB" "shop-eu 20GB bill=max" "backup-7 40GB" "vm-101 2GB" > "$WORK/quotas"
U=http://127.0.0.1:9480
serve_start "$B" "$U" -c "$WORK/demo.conf" --at "@$AT_D" --bill max || exit 1
ip netns exec "$B" python3 tests/integration/browser.py /usr/bin/chromium "$OUTDIR" \
	"overview=$U/?sort=billed" "label=$U/label?l=acme-web" | jq -c '{name, status, errors}'
serve_stop
