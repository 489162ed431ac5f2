#!/bin/sh
# SPDX-License-Identifier: MIT
# test_purger with NALLOC_BACKGROUND=0: no background thread, pages wait
# for the next heap operation.
NALLOC_BACKGROUND=0 exec "${top_builddir:-.}/tests/test_purger"
