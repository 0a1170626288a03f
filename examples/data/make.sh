#!/bin/sh
# Remakes the small input arrays the examples run on (see each example's
# "# inputs:" line).  Deterministic: the same files every time.
#   sh examples/data/make.sh build/tools/randnpy
set -eu
R=${1:-build/tools/randnpy}
cd "$(dirname "$0")"
$R i64 12x2 words_12x2.npy 1 500
$R i64 12x2 tags_12x2.npy 2 5
$R i64 9x2 src_9x2.npy 3 100
$R i64 7x2 tgt_in_7x2.npy 4 120
$R i64 7x2 tgt_out_7x2.npy 5 120
$R i64 16x2 chars_16x2.npy 6 65
$R i64 16x2 next_16x2.npy 7 65
$R i64 2 label_2.npy 8 2
$R f32 2x1 x0_2x1.npy 9
$R f32 20x2x1 curve_20x2x1.npy 10
$R f32 2x4 features_2x4.npy 11
$R i64 2 class_2.npy 12 3
$R f32 10x2x3 series_10x2x3.npy 13
$R f32 10x2x1 series_y_10x2x1.npy 14
$R f32 6x2x8 x_6x2x8.npy 15
$R f32 6x2x4 y_6x2x4.npy 16
$R i64 2 lengths_2.npy 22 17 9
$R i64 12x2 ids32_12x2.npy 23 32
$R i64 12x2 tags4_12x2.npy 24 4
$R i64 2 lengths12_2.npy 25 12 5
