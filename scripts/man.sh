#!/bin/bash
# Regenerates man/slad.1 and man/slactl.1 from the argument parsers (swift-argument-parser's
# generate-manual plugin), then adds the hand-written sections of man/extra/: NAME.1.head
# (ENVIRONMENT, FILES) before EXIT STATUS, NAME.1.tail (EXAMPLES, SEE ALSO) at the end.
# Run after changing commands or options; commit the result. man/slad.yaml.5 is written by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
swift package plugin --allow-writing-to-package-directory generate-manual --configuration debug
mkdir -p man
for page in slad.1 slactl.1; do
    generated=$(find .build/plugins -path '*GenerateManual*' -name "$page" -newer Package.swift | head -n 1)
    [ -n "$generated" ] || { echo "man: the plugin wrote no $page" >&2; exit 1; }
    awk -v head="man/extra/$page.head" '
        /^\.Sh "EXIT STATUS"/ { while ((getline line < head) > 0) print line }
        { print }
    ' "$generated" >"man/$page"
    cat "man/extra/$page.tail" >>"man/$page"
done
ls man
