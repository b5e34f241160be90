#!/bin/bash
# Session 11 call 2c: LseRecallGpuTest with policies that skip mass at these sizes (blasst scale 20, hybrid r 0.8)
B=$PWD/.device/bundle
export SPARSE_RENDER_TEST_DETAILS=flat
timeout 200 $B/bin/gpu-tests --include-classname '.*(LseRecall|DeferredAttentionStats)GpuTest' > $OUT/gpu-tests.txt 2>&1
echo "tests rc=$?"; grep -E "tests (successful|failed|skipped)" $OUT/gpu-tests.txt; grep -B2 -A8 "AssertionFailed\|Exception:\|AssertionError" $OUT/gpu-tests.txt | grep -v '^\s*at ' | head -40
