#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 50 harness invocations SIGKILLed at seeded random points (tools/kill-check.sh):
# no namespace, host interface, process, mount or temporary file may be left.
#
#   host netns ── shakedown (run | matrix | topo up), SIGKILLed
#                   ├ client | hops (haproxy) | server (nginx, node)  anonymous namespaces
#                   └ sweeper: rm -rf of the private TMPDIR directory
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }
: "${SHAKEDOWN:?SHAKEDOWN must name the binary}"
exec bash "$SD_SOURCE_DIR/tools/kill-check.sh" "${KILL_CHECK_RUNS:-50}"
