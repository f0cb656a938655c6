#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# data/grafana-nftally.json: valid JSON with the panels Grafana needs (ids,
# places, a Prometheus query each), every metric it names documented in
# docs/metrics.md, and every PromQL expression (the panels' and the
# variables' selectors, with Grafana's variables filled in) accepted by
# promtool: as recording rules for `promtool check rules` (promtool 2.x
# has no command that parses a lone expression), and the per-label rate
# evaluated by `promtool test rules` on known series to the bit/s.  A
# broken expression must be refused, or the check proves nothing.
set -u
SRC=${SRCDIR:-$(dirname "$0")/..}
J="$SRC/data/grafana-nftally.json"
FAILS=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }
assert_eq() { if [ "$1" = "$2" ]; then ok "$3 = $1"; else bad "$3: want $1, got $2"; fi; }
for t in jq promtool; do
	command -v $t >/dev/null || { echo "SKIP: needs $t" >&2; [ "${CI:-}" = true ] && exit 1; exit 77; }
done
WORK=$(mktemp -d /tmp/nftally-grafana.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

jq empty "$J" 2>"$WORK/jq.err"; assert_eq 0 $? "valid JSON $(cat "$WORK/jq.err")"
assert_eq "nftally true true true" "$(jq -r '"\(.uid) \([.panels[].id] | length == (unique | length)) \(all(.panels[]; .gridPos.w > 0 and .gridPos.h > 0)) \(all(.panels[] | select(.type != "row"); (.targets | length) > 0 and all(.targets[]; .expr != "" and .datasource.uid == "${datasource}")))"' "$J")" \
	"uid, unique panel ids, every panel placed, every query on the chosen Prometheus"
assert_eq "datasource host label" "$(jq -r '[.templating.list[].name] | join(" ")' "$J")" "the variables"

# the expressions: panels', and the selectors inside the variables' label_values()
jq -r '.panels[].targets[]?.expr, (.templating.list[] | select(.type == "query") | .definition |
	capture("label_values\\((?<s>.*), *[a-z_]+\\)").s)' "$J" > "$WORK/exprs"
assert_eq 20 "$(wc -l < "$WORK/exprs")" "18 panel queries and 2 variable selectors"
sed -e 's/\$__rate_interval/5m/g; s/\$__range/1h/g; s/\$__interval/1m/g' \
	-e 's/\$host/.*/g; s/\$label/.*/g' "$WORK/exprs" > "$WORK/filled"
assert_eq 0 "$(grep -c '\$' "$WORK/filled")" "every Grafana variable filled in"

# every metric named is one docs/metrics.md lists
for m in $(grep -o 'nftally_[a-z_]*' "$WORK/filled" | sort -u); do
	grep -q "\`$m" "$SRC/docs/metrics.md" || bad "$m is not in docs/metrics.md"
done
ok "the metrics named: $(grep -o 'nftally_[a-z_]*' "$WORK/filled" | sort -u | paste -sd' ')"

rules() { # EXPRESSIONS-FILE -> a rules file on stdout
	echo "groups:"
	echo "  - name: grafana"
	echo "    rules:"
	awk '{ printf "      - record: nftally_grafana_check_%d\n", NR - 1 }
	     { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); printf "        expr: \"%s\"\n", $0 }' "$1"
}
rules "$WORK/filled" > "$WORK/rules.yml"
OUT=$(promtool check rules "$WORK/rules.yml" 2>&1)
assert_eq "0 SUCCESS: 20 rules found" "$? $(echo "$OUT" | grep -o 'SUCCESS: [0-9]* rules found')" \
	"promtool accepts every expression"
# the check can fail: one broken expression is refused
{ cat "$WORK/filled"; echo 'sum by (label) (rate(nftally_bytes_total[5m])'; } > "$WORK/broken"
rules "$WORK/broken" > "$WORK/broken.yml"
promtool check rules "$WORK/broken.yml" >/dev/null 2>&1
assert_eq 1 $? "promtool refuses a broken expression"

# the first panel (in per label) on known series: 3000 B a minute in is
# 50 B/s, 400 bit/s; out and another host's label do not count in "a"
IN=$(head -1 "$WORK/filled")
cat > "$WORK/test.yml" <<T
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'nftally_bytes_total{host="n1",label="a",addr="198.18.0.1",direction="in"}'
        values: '0+3000x20'
      - series: 'nftally_bytes_total{host="n1",label="a",addr="198.18.0.1",direction="out"}'
        values: '0+9000x20'
      - series: 'nftally_bytes_total{host="n2",label="b",addr="198.18.0.2",direction="in"}'
        values: '0+600x20'
    promql_expr_test:
      - expr: '$IN'
        eval_time: 10m
        exp_samples:
          - labels: '{label="a"}'
            value: 400
          - labels: '{label="b"}'
            value: 80
T
OUT=$(cd "$WORK" && promtool test rules test.yml 2>&1)
assert_eq "0" "$?" "promtool test rules: the in-per-label rate, to the bit/s ($(echo "$OUT" | tail -2 | tr '\n' ' '))"
if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS assertion(s) failed"
	exit 1
fi
echo "all assertions passed"
