;; linewatch: 2:1 tile reduction with WebAssembly SIMD (128-bit).
;;
;; Same result as halveWords() in halve.ts: each output value is the mean of a 2x2 block of
;; the source (the bilinear sample at its centre), as a per-channel affine of the block's byte
;; sum, written as CHW float32 planes. The source is a frame copied into this memory; the
;; caller copies the planes out. Build: `node scripts/buildWasm.mjs` (writes halveSimdWasm.ts).

(module
  (memory (export "memory") 1)

  ;; RGB source: 4 output pixels a step, `mw` a multiple of 4. `src` is the tile's top-left
  ;; byte, `stride` the frame's row bytes, `dst` the first of three planes of `mw` x `mh`
  ;; floats. Reads up to 8 bytes past the last pixel of a row: the caller leaves room.
  (func (export "halve_rgb")
    (param $src i32) (param $stride i32) (param $dst i32) (param $mw i32) (param $mh i32)
    (param $a0 f32) (param $a1 f32) (param $a2 f32) (param $b0 f32) (param $b1 f32) (param $b2 f32)
    (local $v i32) (local $u i32) (local $s0 i32) (local $s1 i32) (local $o i32) (local $plane i32)
    (local $top v128) (local $topB v128) (local $bottom v128) (local $bottomB v128)
    (local $rgTop v128) (local $blTop v128) (local $rgBottom v128) (local $blBottom v128)
    (local $va0 v128) (local $va1 v128) (local $va2 v128) (local $vb0 v128) (local $vb1 v128) (local $vb2 v128)
    (local.set $va0 (f32x4.splat (local.get $a0)))
    (local.set $va1 (f32x4.splat (local.get $a1)))
    (local.set $va2 (f32x4.splat (local.get $a2)))
    (local.set $vb0 (f32x4.splat (local.get $b0)))
    (local.set $vb1 (f32x4.splat (local.get $b1)))
    (local.set $vb2 (f32x4.splat (local.get $b2)))
    (local.set $plane (i32.shl (i32.mul (local.get $mw) (local.get $mh)) (i32.const 2)))
    (local.set $o (local.get $dst))
    (loop $rows
      (local.set $s0 (i32.add (local.get $src) (i32.mul (i32.shl (local.get $v) (i32.const 1)) (local.get $stride))))
      (local.set $s1 (i32.add (local.get $s0) (local.get $stride)))
      (local.set $u (i32.const 0))
      (loop $cols
        ;; Eight source pixels (24 bytes) of each row: R0 G0 B0 R1 G1 B1 ... R7 G7 B7.
        (local.set $top (v128.load (local.get $s0)))
        (local.set $topB (v128.load offset=16 (local.get $s0)))
        (local.set $bottom (v128.load (local.get $s1)))
        (local.set $bottomB (v128.load offset=16 (local.get $s1)))
        ;; Gather each channel's bytes so that the two pixels of an output sit side by side:
        ;; lanes 0-7 red, 8-15 green of $rg; lanes 0-7 blue of $bl.
        (local.set $rgTop
          (i8x16.shuffle 0 3 6 9 12 15 18 21 1 4 7 10 13 16 19 22 (local.get $top) (local.get $topB)))
        (local.set $blTop
          (i8x16.shuffle 2 5 8 11 14 17 20 23 2 5 8 11 14 17 20 23 (local.get $top) (local.get $topB)))
        (local.set $rgBottom
          (i8x16.shuffle 0 3 6 9 12 15 18 21 1 4 7 10 13 16 19 22 (local.get $bottom) (local.get $bottomB)))
        (local.set $blBottom
          (i8x16.shuffle 2 5 8 11 14 17 20 23 2 5 8 11 14 17 20 23 (local.get $bottom) (local.get $bottomB)))
        ;; Widen to 16 bits, add the two rows, add neighbouring lanes: four 2x2 sums a channel.
        (v128.store (local.get $o)
          (f32x4.add (local.get $vb0) (f32x4.mul (local.get $va0) (f32x4.convert_i32x4_u
            (i32x4.extadd_pairwise_i16x8_u
              (i16x8.add (i16x8.extend_low_i8x16_u (local.get $rgTop)) (i16x8.extend_low_i8x16_u (local.get $rgBottom))))))))
        (v128.store (i32.add (local.get $o) (local.get $plane))
          (f32x4.add (local.get $vb1) (f32x4.mul (local.get $va1) (f32x4.convert_i32x4_u
            (i32x4.extadd_pairwise_i16x8_u
              (i16x8.add (i16x8.extend_high_i8x16_u (local.get $rgTop)) (i16x8.extend_high_i8x16_u (local.get $rgBottom))))))))
        (v128.store (i32.add (local.get $o) (i32.shl (local.get $plane) (i32.const 1)))
          (f32x4.add (local.get $vb2) (f32x4.mul (local.get $va2) (f32x4.convert_i32x4_u
            (i32x4.extadd_pairwise_i16x8_u
              (i16x8.add (i16x8.extend_low_i8x16_u (local.get $blTop)) (i16x8.extend_low_i8x16_u (local.get $blBottom))))))))
        (local.set $s0 (i32.add (local.get $s0) (i32.const 24)))
        (local.set $s1 (i32.add (local.get $s1) (i32.const 24)))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br_if $cols (i32.lt_u (local.tee $u (i32.add (local.get $u) (i32.const 4))) (local.get $mw))))
      (br_if $rows (i32.lt_u (local.tee $v (i32.add (local.get $v) (i32.const 1))) (local.get $mh)))))

  ;; One-channel source: 8 output pixels a step, `mw` a multiple of 8, written to `k` planes
  ;; (1, or 3 for a colour model fed from a mono camera) with each plane's own affine.
  (func (export "halve_gray")
    (param $src i32) (param $stride i32) (param $dst i32) (param $mw i32) (param $mh i32) (param $k i32)
    (param $a0 f32) (param $a1 f32) (param $a2 f32) (param $b0 f32) (param $b1 f32) (param $b2 f32)
    (local $v i32) (local $u i32) (local $s0 i32) (local $s1 i32) (local $o i32) (local $plane i32)
    (local $sum v128) (local $lo v128) (local $hi v128)
    (local $va0 v128) (local $va1 v128) (local $va2 v128) (local $vb0 v128) (local $vb1 v128) (local $vb2 v128)
    (local.set $va0 (f32x4.splat (local.get $a0)))
    (local.set $va1 (f32x4.splat (local.get $a1)))
    (local.set $va2 (f32x4.splat (local.get $a2)))
    (local.set $vb0 (f32x4.splat (local.get $b0)))
    (local.set $vb1 (f32x4.splat (local.get $b1)))
    (local.set $vb2 (f32x4.splat (local.get $b2)))
    (local.set $plane (i32.shl (i32.mul (local.get $mw) (local.get $mh)) (i32.const 2)))
    (local.set $o (local.get $dst))
    (loop $rows
      (local.set $s0 (i32.add (local.get $src) (i32.mul (i32.shl (local.get $v) (i32.const 1)) (local.get $stride))))
      (local.set $s1 (i32.add (local.get $s0) (local.get $stride)))
      (local.set $u (i32.const 0))
      (loop $cols
        ;; Sixteen source pixels of each row -> eight 2x2 sums, as two vectors of four.
        (local.set $sum (v128.load (local.get $s0)))
        (local.set $lo (i16x8.extend_low_i8x16_u (local.get $sum)))
        (local.set $hi (i16x8.extend_high_i8x16_u (local.get $sum)))
        (local.set $sum (v128.load (local.get $s1)))
        (local.set $lo (f32x4.convert_i32x4_u (i32x4.extadd_pairwise_i16x8_u
          (i16x8.add (local.get $lo) (i16x8.extend_low_i8x16_u (local.get $sum))))))
        (local.set $hi (f32x4.convert_i32x4_u (i32x4.extadd_pairwise_i16x8_u
          (i16x8.add (local.get $hi) (i16x8.extend_high_i8x16_u (local.get $sum))))))
        (v128.store (local.get $o) (f32x4.add (local.get $vb0) (f32x4.mul (local.get $va0) (local.get $lo))))
        (v128.store offset=16 (local.get $o) (f32x4.add (local.get $vb0) (f32x4.mul (local.get $va0) (local.get $hi))))
        (if (i32.eq (local.get $k) (i32.const 3))
          (then
            (v128.store (i32.add (local.get $o) (local.get $plane))
              (f32x4.add (local.get $vb1) (f32x4.mul (local.get $va1) (local.get $lo))))
            (v128.store offset=16 (i32.add (local.get $o) (local.get $plane))
              (f32x4.add (local.get $vb1) (f32x4.mul (local.get $va1) (local.get $hi))))
            (v128.store (i32.add (local.get $o) (i32.shl (local.get $plane) (i32.const 1)))
              (f32x4.add (local.get $vb2) (f32x4.mul (local.get $va2) (local.get $lo))))
            (v128.store offset=16 (i32.add (local.get $o) (i32.shl (local.get $plane) (i32.const 1)))
              (f32x4.add (local.get $vb2) (f32x4.mul (local.get $va2) (local.get $hi))))))
        (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
        (local.set $s1 (i32.add (local.get $s1) (i32.const 16)))
        (local.set $o (i32.add (local.get $o) (i32.const 32)))
        (br_if $cols (i32.lt_u (local.tee $u (i32.add (local.get $u) (i32.const 8))) (local.get $mw))))
      (br_if $rows (i32.lt_u (local.tee $v (i32.add (local.get $v) (i32.const 1))) (local.get $mh))))))
