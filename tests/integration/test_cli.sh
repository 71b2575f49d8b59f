#!/bin/sh
# agentctl against a fake API (tests/cli): every command, its --json form,
# usage errors, exit codes, watch re-attaching after a server restart.
# VALGRIND=1: agentctl under memcheck (tests/cli/run-cli.sh).
exec sh "$(dirname "$0")/../cli/run-cli.sh" test-cli.sh
