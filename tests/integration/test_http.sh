#!/bin/sh
# agentctl's HTTP client against a server that answers in unusual or broken
# ways (tests/cli/test-http.sh): clear errors and exit 3, never a hang.
# VALGRIND=1: agentctl under memcheck (tests/cli/run-cli.sh).
exec sh "$(dirname "$0")/../cli/run-cli.sh" test-http.sh
