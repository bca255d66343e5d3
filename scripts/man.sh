#!/bin/bash
# Regenerates man/slad.1 and man/slactl.1 from the argument parsers (swift-argument-parser's
# generate-manual plugin). Run after changing commands or options; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
swift package plugin --allow-writing-to-package-directory generate-manual --configuration debug
mkdir -p man
find .build/plugins -path '*GenerateManual*' -name '*.1' -newer Package.swift -exec cp {} man/ \;
ls man
