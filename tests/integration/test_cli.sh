#!/bin/sh
# agentctl against a fake API (tests/cli): every command, its --json form,
# usage errors, exit codes, watch re-attaching after a server restart.
AGENTCTL=${BIN:-$(pwd)/bin}/agentctl exec sh "$(dirname "$0")/../cli/test-cli.sh"
