;; linewatch: one tile map blended into a stitch accumulator, with WebAssembly SIMD (128-bit).
;;
;; Same arithmetic as StitchAccumulator's JavaScript path in stitch.ts (in float32 throughout):
;; every map row is interpolated across the tile's covered grid columns once (the weights carry
;; the column ramp), then each covered grid row adds a weighted sum of two of those rows (the
;; weights carry the row ramp). All arrays live in this memory, placed by the caller; offsets are
;; bytes. Build: `node scripts/buildWasm.mjs` (writes stitchSimdWasm.ts).

(module
  (memory (export "memory") 1)

  ;; $acc: the grid, `gw` floats a row; the tile covers columns c0 .. c0+cols-1.
  ;; $map: `mw` x `mh` floats. $u0 $u1 (i32) and $wu0 $wu1 (f32): per covered column, the two map
  ;; columns it reads and their weights. $rowsOut $v0 $v1 (i32) and $wv0 $wv1 (f32): per covered
  ;; grid row (`n` of them), its index, the two interpolated rows it reads and their weights.
  ;; $rows: scratch for `mh` x `cols` floats.
  (func (export "add_tile")
    (param $acc i32) (param $gw i32) (param $c0 i32)
    (param $map i32) (param $mw i32) (param $mh i32)
    (param $cols i32) (param $u0 i32) (param $u1 i32) (param $wu0 i32) (param $wu1 i32)
    (param $n i32) (param $rowsOut i32) (param $v0 i32) (param $v1 i32) (param $wv0 i32) (param $wv1 i32)
    (param $rows i32)
    (local $r i32) (local $i i32) (local $m i32) (local $o i32) (local $k i32)
    (local $r0 i32) (local $r1 i32) (local $a f32) (local $b f32) (local $va v128) (local $vb v128)
    (local $vec i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    ;; Columns: $rows[r][i] = map[r][u0[i]] * wu0[i] + map[r][u1[i]] * wu1[i].
    (local.set $o (local.get $rows))
    (local.set $m (local.get $map))
    (block $rowsDone
      (loop $mapRows
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $mh)))
        (local.set $i (i32.const 0))
        (loop $mapCols
          (f32.store
            (i32.add (local.get $o) (i32.shl (local.get $i) (i32.const 2)))
            (f32.add
              (f32.mul
                (f32.load (i32.add (local.get $m) (i32.shl (i32.load (i32.add (local.get $u0) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2))))
                (f32.load (i32.add (local.get $wu0) (i32.shl (local.get $i) (i32.const 2)))))
              (f32.mul
                (f32.load (i32.add (local.get $m) (i32.shl (i32.load (i32.add (local.get $u1) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2))))
                (f32.load (i32.add (local.get $wu1) (i32.shl (local.get $i) (i32.const 2)))))))
          (br_if $mapCols (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $cols))))
        (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
        (local.set $m (i32.add (local.get $m) (i32.shl (local.get $mw) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $mapRows)))
    ;; Rows: acc[rowsOut[k]][c0 + i] += rows[v0[k]][i] * wv0[k] + rows[v1[k]][i] * wv1[k], four
    ;; columns a step, the last cols % 4 one at a time.
    (local.set $vec (i32.and (local.get $cols) (i32.const -4)))
    (block $gridDone
      (loop $gridRows
        (br_if $gridDone (i32.ge_u (local.get $k) (local.get $n)))
        (local.set $a (f32.load (i32.add (local.get $wv0) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $b (f32.load (i32.add (local.get $wv1) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $va (f32x4.splat (local.get $a)))
        (local.set $vb (f32x4.splat (local.get $b)))
        (local.set $r0 (i32.add (local.get $rows)
          (i32.mul (i32.load (i32.add (local.get $v0) (i32.shl (local.get $k) (i32.const 2)))) (local.get $rowBytes))))
        (local.set $r1 (i32.add (local.get $rows)
          (i32.mul (i32.load (i32.add (local.get $v1) (i32.shl (local.get $k) (i32.const 2)))) (local.get $rowBytes))))
        (local.set $o (i32.add (local.get $acc) (i32.shl
          (i32.add (i32.mul (i32.load (i32.add (local.get $rowsOut) (i32.shl (local.get $k) (i32.const 2)))) (local.get $gw)) (local.get $c0))
          (i32.const 2))))
        (local.set $i (i32.const 0))
        (block $vecDone
          (loop $vecCols
            (br_if $vecDone (i32.ge_u (local.get $i) (local.get $vec)))
            (v128.store (local.get $o)
              (f32x4.add (v128.load (local.get $o))
                (f32x4.add (f32x4.mul (v128.load (local.get $r0)) (local.get $va))
                           (f32x4.mul (v128.load (local.get $r1)) (local.get $vb)))))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (local.set $r0 (i32.add (local.get $r0) (i32.const 16)))
            (local.set $r1 (i32.add (local.get $r1) (i32.const 16)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $vecCols)))
        (block $tailDone
          (loop $tailCols
            (br_if $tailDone (i32.ge_u (local.get $i) (local.get $cols)))
            (f32.store (local.get $o)
              (f32.add (f32.load (local.get $o))
                (f32.add (f32.mul (f32.load (local.get $r0)) (local.get $a))
                         (f32.mul (f32.load (local.get $r1)) (local.get $b)))))
            (local.set $o (i32.add (local.get $o) (i32.const 4)))
            (local.set $r0 (i32.add (local.get $r0) (i32.const 4)))
            (local.set $r1 (i32.add (local.get $r1) (i32.const 4)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $tailCols)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $gridRows)))))
