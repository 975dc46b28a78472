;; The network's numeric kernels in WebAssembly SIMD (f32x4).
;;
;; Every pointer is a byte offset into the imported memory, where the
;; network keeps its parameters, gradients, optimizer state and scratch
;; buffers (src/model/arena.ts). Lengths count float32 elements. A vector
;; loop handles four lanes at a time and a scalar loop the remainder, so
;; no length has to be a multiple of four.
;;
;; Built into kernels.wasm by `node scripts/build-wasm.mjs` (wabt);
;; `npm test` checks that the committed binary matches this source.
(module
  (import "env" "memory" (memory 1))

  ;; dst[0..n) += a · src[0..n)
  (func $axpy (param $dst i32) (param $src i32) (param $a f32) (param $n i32)
    (local $av v128) (local $end4 i32) (local $end i32)
    (local.set $av (f32x4.splat (local.get $a)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $dst) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $dst) (local.get $end4)))
        (v128.store (local.get $dst)
          (f32x4.add (v128.load (local.get $dst)) (f32x4.mul (local.get $av) (v128.load (local.get $src)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $vec)))
    (block $done
      (loop $scalar
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst)
          (f32.add (f32.load (local.get $dst)) (f32.mul (local.get $a) (f32.load (local.get $src)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $scalar))))

;; dst[0..n) += a · s1[0..n) + b · s2[0..n) (two rows per pass over dst: half its loads and stores)
  (func $axpy2 (param $dst i32) (param $s1 i32) (param $a f32) (param $s2 i32) (param $b f32) (param $n i32)
    (local $av v128) (local $bv v128) (local $end4 i32) (local $end i32)
    (local.set $av (f32x4.splat (local.get $a)))
    (local.set $bv (f32x4.splat (local.get $b)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $dst) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $dst) (local.get $end4)))
        (v128.store (local.get $dst)
          (f32x4.add
            (v128.load (local.get $dst))
            (f32x4.add (f32x4.mul (local.get $av) (v128.load (local.get $s1))) (f32x4.mul (local.get $bv) (v128.load (local.get $s2))))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $s1 (i32.add (local.get $s1) (i32.const 16)))
        (local.set $s2 (i32.add (local.get $s2) (i32.const 16)))
        (br $vec)))
    (block $done
      (loop $scalar
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst)
          (f32.add
            (f32.load (local.get $dst))
            (f32.add (f32.mul (local.get $a) (f32.load (local.get $s1))) (f32.mul (local.get $b) (f32.load (local.get $s2))))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $s1 (i32.add (local.get $s1) (i32.const 4)))
        (local.set $s2 (i32.add (local.get $s2) (i32.const 4)))
        (br $scalar))))

    ;; a[0..n) · b[0..n)
  (func $dot (param $a i32) (param $b i32) (param $n i32) (result f32)
    (local $acc v128) (local $s f32) (local $end4 i32) (local $end i32)
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $a) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $a) (local.get $end4)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (v128.load (local.get $a)) (v128.load (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br $vec)))
    (local.set $s
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
        (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
    (block $done
      (loop $scalar
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $a)) (f32.load (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br $scalar)))
    (local.get $s))

  ;; out[0..nOut) += xᵀW for an input-major W [nIn, nOut]; inputs equal to 0 are skipped,
  ;; the others are added two rows at a time.
  (func (export "dense_add") (param $W i32) (param $x i32) (param $out i32) (param $nIn i32) (param $nOut i32)
    (local $j i32) (local $v f32) (local $stride i32) (local $held i32) (local $hv f32)
    (local.set $stride (i32.shl (local.get $nOut) (i32.const 2)))
    (local.set $held (i32.const -1))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $j) (local.get $nIn)))
        (local.set $v (f32.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2)))))
        (if (f32.ne (local.get $v) (f32.const 0))
          (then
            (if (i32.lt_s (local.get $held) (i32.const 0))
              (then
                (local.set $held (local.get $j))
                (local.set $hv (local.get $v)))
              (else
                (call $axpy2 (local.get $out)
                  (i32.add (local.get $W) (i32.mul (local.get $held) (local.get $stride))) (local.get $hv)
                  (i32.add (local.get $W) (i32.mul (local.get $j) (local.get $stride))) (local.get $v)
                  (local.get $nOut))
                (local.set $held (i32.const -1))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $rows)))
    (if (i32.ge_s (local.get $held) (i32.const 0))
      (then
        (call $axpy (local.get $out) (i32.add (local.get $W) (i32.mul (local.get $held) (local.get $stride))) (local.get $hv) (local.get $nOut)))))

  ;; gW[j, :] += x[j] · dy for every input j with x[j] ≠ 0 (a dense layer's weight gradient).
  (func (export "add_outer") (param $gW i32) (param $x i32) (param $dy i32) (param $nIn i32) (param $nOut i32)
    (local $j i32) (local $v f32) (local $stride i32)
    (local.set $stride (i32.shl (local.get $nOut) (i32.const 2)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $j) (local.get $nIn)))
        (local.set $v (f32.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2)))))
        (if (f32.ne (local.get $v) (f32.const 0))
          (then
            (call $axpy (i32.add (local.get $gW) (i32.mul (local.get $j) (local.get $stride))) (local.get $dy) (local.get $v) (local.get $nOut))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $rows))))

  ;; dx[j] = W[j, :] · dy, or 0 where act[j] = 0 (act = 0: no activation mask).
  ;; With accumulate ≠ 0, dx[j] += W[j, :] · dy instead (a second path into the same input).
  (func (export "back_input") (param $W i32) (param $dy i32) (param $act i32) (param $dx i32) (param $nIn i32) (param $nOut i32) (param $accumulate i32)
    (local $j i32) (local $stride i32) (local $at i32) (local $s f32)
    (local.set $stride (i32.shl (local.get $nOut) (i32.const 2)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $j) (local.get $nIn)))
        (local.set $at (i32.add (local.get $dx) (i32.shl (local.get $j) (i32.const 2))))
        (if (i32.and
              (i32.ne (local.get $act) (i32.const 0))
              (f32.eq (f32.load (i32.add (local.get $act) (i32.shl (local.get $j) (i32.const 2)))) (f32.const 0)))
          (then
            (if (i32.eqz (local.get $accumulate)) (then (f32.store (local.get $at) (f32.const 0)))))
          (else
            (local.set $s (call $dot (i32.add (local.get $W) (i32.mul (local.get $j) (local.get $stride))) (local.get $dy) (local.get $nOut)))
            (if (local.get $accumulate)
              (then (local.set $s (f32.add (local.get $s) (f32.load (local.get $at))))))
            (f32.store (local.get $at) (local.get $s))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $rows))))

  ;; out[0..dim) += Σₖ val[k] · E[idx[k], :] (an embedding bag over n weighted rows, two at a time).
  (func (export "bag") (param $E i32) (param $idx i32) (param $val i32) (param $n i32) (param $out i32) (param $dim i32)
    (local $k i32) (local $stride i32) (local $n2 i32)
    (local.set $stride (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $n2 (i32.and (local.get $n) (i32.const -2)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $k) (local.get $n2)))
        (call $axpy2
          (local.get $out)
          (i32.add (local.get $E) (i32.mul (i32.load (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride)))
          (f32.load (i32.add (local.get $val) (i32.shl (local.get $k) (i32.const 2))))
          (i32.add (local.get $E) (i32.mul (i32.load (i32.add (local.get $idx) (i32.shl (i32.add (local.get $k) (i32.const 1)) (i32.const 2)))) (local.get $stride)))
          (f32.load (i32.add (local.get $val) (i32.shl (i32.add (local.get $k) (i32.const 1)) (i32.const 2))))
          (local.get $dim))
        (local.set $k (i32.add (local.get $k) (i32.const 2)))
        (br $rows)))
    (if (i32.lt_u (local.get $k) (local.get $n))
      (then
        (call $axpy
          (local.get $out)
          (i32.add (local.get $E) (i32.mul (i32.load (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride)))
          (f32.load (i32.add (local.get $val) (i32.shl (local.get $k) (i32.const 2))))
          (local.get $dim)))))

  ;; G[slot[k], :] += val[k] · de for k < n (the embedding bag's sparse gradient).
  (func (export "bag_grad") (param $G i32) (param $slot i32) (param $val i32) (param $n i32) (param $de i32) (param $dim i32)
    (local $k i32) (local $stride i32)
    (local.set $stride (i32.shl (local.get $dim) (i32.const 2)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
        (call $axpy
          (i32.add (local.get $G) (i32.mul (i32.load (i32.add (local.get $slot) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride)))
          (local.get $de)
          (f32.load (i32.add (local.get $val) (i32.shl (local.get $k) (i32.const 2))))
          (local.get $dim))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $rows))))

  ;; AdamW on n elements: m ← b1·m + (1−b1)·g; v ← b2·v + (1−b2)·g²;
  ;; p ← p·decay − step·m / (√(v·c2) + eps), with step = lr/(1−b1ᵗ) and c2 = 1/(1−b2ᵗ).
  (func (export "adam") (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
        (param $b1 f32) (param $b2 f32) (param $step f32) (param $c2 f32) (param $eps f32) (param $decay f32)
    (local $i i32) (local $n4 i32) (local $at i32)
    (local $b1v v128) (local $b1cv v128) (local $b2v v128) (local $b2cv v128) (local $stepv v128) (local $c2v v128) (local $epsv v128) (local $decayv v128)
    (local $gv v128) (local $mv v128) (local $vv v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $b1v (f32x4.splat (local.get $b1)))
    (local.set $b1cv (f32x4.splat (f32.sub (f32.const 1) (local.get $b1))))
    (local.set $b2v (f32x4.splat (local.get $b2)))
    (local.set $b2cv (f32x4.splat (f32.sub (f32.const 1) (local.get $b2))))
    (local.set $stepv (f32x4.splat (local.get $step)))
    (local.set $c2v (f32x4.splat (local.get $c2)))
    (local.set $epsv (f32x4.splat (local.get $eps)))
    (local.set $decayv (f32x4.splat (local.get $decay)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $at))))
        (local.set $mv (f32x4.add (f32x4.mul (local.get $b1v) (v128.load (i32.add (local.get $m) (local.get $at))))
                                  (f32x4.mul (local.get $b1cv) (local.get $gv))))
        (local.set $vv (f32x4.add (f32x4.mul (local.get $b2v) (v128.load (i32.add (local.get $v) (local.get $at))))
                                  (f32x4.mul (local.get $b2cv) (f32x4.mul (local.get $gv) (local.get $gv)))))
        (v128.store (i32.add (local.get $m) (local.get $at)) (local.get $mv))
        (v128.store (i32.add (local.get $v) (local.get $at)) (local.get $vv))
        (v128.store (i32.add (local.get $p) (local.get $at))
          (f32x4.sub
            (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $at))) (local.get $decayv))
            (f32x4.div (f32x4.mul (local.get $stepv) (local.get $mv))
                       (f32x4.add (f32x4.sqrt (f32x4.mul (local.get $vv) (local.get $c2v))) (local.get $epsv)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vec)))
    (block $done
      (loop $scalar
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $at))))
        (local.set $ms (f32.add (f32.mul (local.get $b1) (f32.load (i32.add (local.get $m) (local.get $at))))
                                (f32.mul (f32.sub (f32.const 1) (local.get $b1)) (local.get $gs))))
        (local.set $vs (f32.add (f32.mul (local.get $b2) (f32.load (i32.add (local.get $v) (local.get $at))))
                                (f32.mul (f32.sub (f32.const 1) (local.get $b2)) (f32.mul (local.get $gs) (local.get $gs)))))
        (f32.store (i32.add (local.get $m) (local.get $at)) (local.get $ms))
        (f32.store (i32.add (local.get $v) (local.get $at)) (local.get $vs))
        (f32.store (i32.add (local.get $p) (local.get $at))
          (f32.sub
            (f32.mul (f32.load (i32.add (local.get $p) (local.get $at))) (local.get $decay))
            (f32.div (f32.mul (local.get $step) (local.get $ms))
                     (f32.add (f32.sqrt (f32.mul (local.get $vs) (local.get $c2))) (local.get $eps)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scalar))))

  ;; Row-wise Adagrad on `count` touched embedding rows: row rows[k] of E
  ;; has its gradient in slot k of G and one accumulator acc[rows[k]];
  ;; acc += mean(g²); E[row] ← E[row]·decay − lr/(√acc + 1e-8) · g.
  (func (export "adagrad_rows") (param $E i32) (param $G i32) (param $rows i32) (param $acc i32) (param $count i32) (param $dim i32) (param $lr f32) (param $decay f32)
    (local $k i32) (local $stride i32) (local $g i32) (local $e i32) (local $a i32) (local $sum f32) (local $end i32) (local $decayv v128)
    (local.set $stride (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $decayv (f32x4.splat (local.get $decay)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $k) (local.get $count)))
        (local.set $g (i32.add (local.get $G) (i32.mul (local.get $k) (local.get $stride))))
        (local.set $a (i32.add (local.get $acc) (i32.shl (i32.load (i32.add (local.get $rows) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 2))))
        (local.set $e (i32.add (local.get $E) (i32.mul (i32.load (i32.add (local.get $rows) (i32.shl (local.get $k) (i32.const 2)))) (local.get $stride))))
        (local.set $sum (f32.add (f32.load (local.get $a))
                                 (f32.div (call $dot (local.get $g) (local.get $g) (local.get $dim)) (f32.convert_i32_u (local.get $dim)))))
        (f32.store (local.get $a) (local.get $sum))
        ;; decay the row, then step against the gradient
        (if (f32.ne (local.get $decay) (f32.const 1))
          (then (call $scale (local.get $e) (local.get $decay) (local.get $dim))))
        (call $axpy (local.get $e) (local.get $g)
          (f32.neg (f32.div (local.get $lr) (f32.add (f32.sqrt (local.get $sum)) (f32.const 1e-8))))
          (local.get $dim))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $each))))

  ;; x[0..n) ·= a
  (func $scale (param $x i32) (param $a f32) (param $n i32)
    (local $av v128) (local $end4 i32) (local $end i32)
    (local.set $av (f32x4.splat (local.get $a)))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $x) (local.get $end4)))
        (v128.store (local.get $x) (f32x4.mul (v128.load (local.get $x)) (local.get $av)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $vec)))
    (block $done
      (loop $scalar
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (f32.store (local.get $x) (f32.mul (f32.load (local.get $x)) (local.get $a)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $scalar))))
)
