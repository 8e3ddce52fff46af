#!/bin/sh
# The exact evaluation of PRM-guided search on arith, as recorded in bench/results/exact-arith.json:
# a demo-style training corpus (Monte-Carlo labels, N = 8), two tiny PRMs trained from scratch with
# the same budget (PQM's ranking loss with zeta 4, and BCE), then every search with the exact-Q
# oracle and both PRMs on 100 test questions x 3 seeds. Needs the CLI built (apps/cli/dist).
# Run from the repository root: sh packages/search/bench/exact-arith.sh [folder]
set -e
OUT=${1:-pqm-results/search-exact}
PQM="node apps/cli/dist/bin.js"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# tsx is a dev dependency of @pqm/search, so the corpus script runs from the package's folder.
(cd packages/search && node --import tsx bench/arith-corpus.ts "$OUT/train.jsonl" 800 4 8)
for loss in pqm bce; do
  $PQM train --train "$OUT/train.jsonl" --backbone preset:tiny --loss $loss --zeta 4 --steps 400 \
    --batch-size 32 --lr 0.002 --seed 0 --out "$OUT/$loss" --no-progress --json > "$OUT/$loss.json"
done
$PQM search-eval --questions 100 --seeds 3 --seed 0 \
  --prm "oracle,pqm=$OUT/pqm/checkpoint-000400,bce=$OUT/bce/checkpoint-000400" --out "$OUT/eval"
