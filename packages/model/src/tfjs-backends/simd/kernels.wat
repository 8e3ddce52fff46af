;; Fused float32 kernels for the TF.js wasm backend, over its own memory (imported), in WebAssembly
;; SIMD (four lanes). Pointers are byte offsets into that memory; counts are elements. Every lane
;; operation is an IEEE float32 operation, so a kernel gives the bits of the same operations done
;; one by one in the same order (the softmax gradient's row sum is the exception: it adds four
;; partial sums). Assembled into simd-kernels.generated.ts by `pnpm gen:simd` (wabt).
(module
  (import "env" "memory" (memory 1))

  ;; AdamW on n values: m' = m*b1 + g*k1; v' = v*b2 + (g*g)*k2;
  ;; p' = p - ((m'/c1) / (sqrt(v'/c2) + eps)) * lr, then p' - p*decay when decay != 0.
  (func (export "adamw")
    (param $p i32) (param $g i32) (param $m i32) (param $v i32)
    (param $outP i32) (param $outM i32) (param $outV i32) (param $n i32)
    (param $b1 f32) (param $k1 f32) (param $b2 f32) (param $k2 f32)
    (param $c1 f32) (param $c2 f32) (param $eps f32) (param $lr f32) (param $decay f32)
    (local $i i32) (local $off i32) (local $vec i32)
    (local $B1 v128) (local $K1 v128) (local $B2 v128) (local $K2 v128)
    (local $C1 v128) (local $C2 v128) (local $E v128) (local $L v128) (local $D v128)
    (local $gv v128) (local $mv v128) (local $vv v128) (local $pv v128) (local $nv v128)
    (local $gs f32) (local $ms f32) (local $vs f32) (local $ps f32) (local $ns f32)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $K1 (f32x4.splat (local.get $k1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $K2 (f32x4.splat (local.get $k2)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $E (f32x4.splat (local.get $eps)))
    (local.set $L (f32x4.splat (local.get $lr)))
    (local.set $D (f32x4.splat (local.get $decay)))
    (local.set $vec (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $lanes
        (br_if $done (i32.ge_u (local.get $i) (local.get $vec)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $off))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $off))) (local.get $B1))
            (f32x4.mul (local.get $gv) (local.get $K1))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $off))) (local.get $B2))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (local.get $K2))))
        (local.set $pv (v128.load (i32.add (local.get $p) (local.get $off))))
        (local.set $nv
          (f32x4.sub (local.get $pv)
            (f32x4.mul
              (f32x4.div
                (f32x4.div (local.get $mv) (local.get $C1))
                (f32x4.add (f32x4.sqrt (f32x4.div (local.get $vv) (local.get $C2))) (local.get $E)))
              (local.get $L))))
        (if (f32.ne (local.get $decay) (f32.const 0))
          (then
            (local.set $nv (f32x4.sub (local.get $nv) (f32x4.mul (local.get $pv) (local.get $D))))))
        (v128.store (i32.add (local.get $outM) (local.get $off)) (local.get $mv))
        (v128.store (i32.add (local.get $outV) (local.get $off)) (local.get $vv))
        (v128.store (i32.add (local.get $outP) (local.get $off)) (local.get $nv))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $lanes)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $off))))
        (local.set $ms
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $m) (local.get $off))) (local.get $b1))
            (f32.mul (local.get $gs) (local.get $k1))))
        (local.set $vs
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $v) (local.get $off))) (local.get $b2))
            (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $k2))))
        (local.set $ps (f32.load (i32.add (local.get $p) (local.get $off))))
        (local.set $ns
          (f32.sub (local.get $ps)
            (f32.mul
              (f32.div
                (f32.div (local.get $ms) (local.get $c1))
                (f32.add (f32.sqrt (f32.div (local.get $vs) (local.get $c2))) (local.get $eps)))
              (local.get $lr))))
        (if (f32.ne (local.get $decay) (f32.const 0))
          (then (local.set $ns (f32.sub (local.get $ns) (f32.mul (local.get $ps) (local.get $decay))))))
        (f32.store (i32.add (local.get $outM) (local.get $off)) (local.get $ms))
        (f32.store (i32.add (local.get $outV) (local.get $off)) (local.get $vs))
        (f32.store (i32.add (local.get $outP) (local.get $off)) (local.get $ns))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

  ;; Softmax gradient over rows of `width`: out = (dy - sum(dy*y)) * y, row by row.
  (func (export "softmax_grad")
    (param $y i32) (param $dy i32) (param $out i32) (param $rows i32) (param $width i32)
    (local $row i32) (local $j i32) (local $vec i32) (local $base i32) (local $off i32)
    (local $acc v128) (local $dot f32) (local $D v128)
    (local.set $vec (i32.and (local.get $width) (i32.const -4)))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $base (i32.shl (i32.mul (local.get $row) (local.get $width)) (i32.const 2)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $dotDone
          (loop $dotLoop
            (br_if $dotDone (i32.ge_u (local.get $j) (local.get $vec)))
            (local.set $off (i32.add (local.get $base) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $acc
              (f32x4.add (local.get $acc)
                (f32x4.mul
                  (v128.load (i32.add (local.get $dy) (local.get $off)))
                  (v128.load (i32.add (local.get $y) (local.get $off))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $dotLoop)))
        (local.set $dot
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
            (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (block $dotTailDone
          (loop $dotTail
            (br_if $dotTailDone (i32.ge_u (local.get $j) (local.get $width)))
            (local.set $off (i32.add (local.get $base) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $dot
              (f32.add (local.get $dot)
                (f32.mul
                  (f32.load (i32.add (local.get $dy) (local.get $off)))
                  (f32.load (i32.add (local.get $y) (local.get $off))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $dotTail)))
        (local.set $D (f32x4.splat (local.get $dot)))
        (local.set $j (i32.const 0))
        (block $outDone
          (loop $outLoop
            (br_if $outDone (i32.ge_u (local.get $j) (local.get $vec)))
            (local.set $off (i32.add (local.get $base) (i32.shl (local.get $j) (i32.const 2))))
            (v128.store (i32.add (local.get $out) (local.get $off))
              (f32x4.mul
                (f32x4.sub (v128.load (i32.add (local.get $dy) (local.get $off))) (local.get $D))
                (v128.load (i32.add (local.get $y) (local.get $off)))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $outLoop)))
        (block $outTailDone
          (loop $outTail
            (br_if $outTailDone (i32.ge_u (local.get $j) (local.get $width)))
            (local.set $off (i32.add (local.get $base) (i32.shl (local.get $j) (i32.const 2))))
            (f32.store (i32.add (local.get $out) (local.get $off))
              (f32.mul
                (f32.sub (f32.load (i32.add (local.get $dy) (local.get $off))) (local.get $dot))
                (f32.load (i32.add (local.get $y) (local.get $off)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $outTail)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rowLoop))))

  ;; Rotate-half rotary embedding over rows of headDim = 2*half (half a multiple of 4): x is
  ;; [batch, heads, seq, headDim], cos and sin [batch, 1, seq, headDim]. Forward (inverse = 0):
  ;;   out_low = x_low*cos_low + (-x_high)*sin_low, out_high = x_high*cos_high + x_low*sin_high;
  ;; its gradient (inverse = 1), for dy in x's place:
  ;;   out_low = dy_low*cos_low + dy_high*sin_high, out_high = dy_high*cos_high - dy_low*sin_low.
  (func (export "rotary")
    (param $x i32) (param $cos i32) (param $sin i32) (param $out i32)
    (param $batch i32) (param $heads i32) (param $seq i32) (param $half i32) (param $inverse i32)
    (local $b i32) (local $h i32) (local $t i32) (local $j i32)
    (local $row i32) (local $angle i32) (local $lo i32) (local $hi i32) (local $alo i32) (local $ahi i32)
    (local $xl v128) (local $xh v128) (local $cl v128) (local $ch v128) (local $sl v128) (local $sh v128)
    (local $rowBytes i32) (local $halfBytes i32)
    (local.set $halfBytes (i32.shl (local.get $half) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $halfBytes) (i32.const 1)))
    (block $bDone (loop $bLoop
      (br_if $bDone (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $h (i32.const 0))
      (block $hDone (loop $hLoop
        (br_if $hDone (i32.ge_u (local.get $h) (local.get $heads)))
        (local.set $t (i32.const 0))
        (block $tDone (loop $tLoop
          (br_if $tDone (i32.ge_u (local.get $t) (local.get $seq)))
          (local.set $row
            (i32.mul
              (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $heads)) (local.get $h)) (local.get $seq))
                (local.get $t))
              (local.get $rowBytes)))
          (local.set $angle
            (i32.mul (i32.add (i32.mul (local.get $b) (local.get $seq)) (local.get $t)) (local.get $rowBytes)))
          (local.set $j (i32.const 0))
          (block $jDone (loop $jLoop
            (br_if $jDone (i32.ge_u (local.get $j) (local.get $halfBytes)))
            (local.set $lo (i32.add (local.get $row) (local.get $j)))
            (local.set $hi (i32.add (local.get $lo) (local.get $halfBytes)))
            (local.set $alo (i32.add (local.get $angle) (local.get $j)))
            (local.set $ahi (i32.add (local.get $alo) (local.get $halfBytes)))
            (local.set $xl (v128.load (i32.add (local.get $x) (local.get $lo))))
            (local.set $xh (v128.load (i32.add (local.get $x) (local.get $hi))))
            (local.set $cl (v128.load (i32.add (local.get $cos) (local.get $alo))))
            (local.set $ch (v128.load (i32.add (local.get $cos) (local.get $ahi))))
            (local.set $sl (v128.load (i32.add (local.get $sin) (local.get $alo))))
            (local.set $sh (v128.load (i32.add (local.get $sin) (local.get $ahi))))
            (if (local.get $inverse)
              (then
                (v128.store (i32.add (local.get $out) (local.get $lo))
                  (f32x4.add (f32x4.mul (local.get $xl) (local.get $cl)) (f32x4.mul (local.get $xh) (local.get $sh))))
                (v128.store (i32.add (local.get $out) (local.get $hi))
                  (f32x4.sub (f32x4.mul (local.get $xh) (local.get $ch)) (f32x4.mul (local.get $xl) (local.get $sl)))))
              (else
                (v128.store (i32.add (local.get $out) (local.get $lo))
                  (f32x4.add (f32x4.mul (local.get $xl) (local.get $cl))
                    (f32x4.mul (f32x4.neg (local.get $xh)) (local.get $sl))))
                (v128.store (i32.add (local.get $out) (local.get $hi))
                  (f32x4.add (f32x4.mul (local.get $xh) (local.get $ch)) (f32x4.mul (local.get $xl) (local.get $sh))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $jLoop)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br $tLoop)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $hLoop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bLoop))))

  ;; Gradient of SwiGLU, out = (gate * s) * up with s = sigmoid(gate), given s from the forward pass,
  ;; in the order TF.js's gradients run: dUp = dy * (gate*s); dSilu = dy * up;
  ;; dGate = dSilu*s + (dSilu*gate) * (s * (1 - s)). n a multiple of 4.
  (func (export "swiglu_grad")
    (param $gate i32) (param $up i32) (param $s i32) (param $dy i32) (param $dGate i32) (param $dUp i32)
    (param $n i32)
    (local $off i32) (local $end i32)
    (local $g v128) (local $sv v128) (local $d v128) (local $dsilu v128) (local $one v128)
    (local.set $one (v128.const f32x4 1 1 1 1))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done (loop $lanes
      (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
      (local.set $g (v128.load (i32.add (local.get $gate) (local.get $off))))
      (local.set $sv (v128.load (i32.add (local.get $s) (local.get $off))))
      (local.set $d (v128.load (i32.add (local.get $dy) (local.get $off))))
      (v128.store (i32.add (local.get $dUp) (local.get $off))
        (f32x4.mul (local.get $d) (f32x4.mul (local.get $g) (local.get $sv))))
      (local.set $dsilu (f32x4.mul (local.get $d) (v128.load (i32.add (local.get $up) (local.get $off)))))
      (v128.store (i32.add (local.get $dGate) (local.get $off))
        (f32x4.add
          (f32x4.mul (local.get $dsilu) (local.get $sv))
          (f32x4.mul
            (f32x4.mul (local.get $dsilu) (local.get $g))
            (f32x4.mul (local.get $sv) (f32x4.sub (local.get $one) (local.get $sv))))))
      (local.set $off (i32.add (local.get $off) (i32.const 16)))
      (br $lanes))))

  ;; RMSNorm over rows of `width` (a multiple of 4): r = 1 / sqrt(sum(x*x) / width + eps) per row,
  ;; y = (x * r) * w. Writes y and r (one value per row).
  (func (export "rmsnorm")
    (param $x i32) (param $w i32) (param $y i32) (param $r i32) (param $rows i32) (param $width i32)
    (param $eps f32)
    (local $row i32) (local $j i32) (local $base i32) (local $rowBytes i32) (local $off i32)
    (local $acc v128) (local $v v128) (local $rr f32) (local $R v128)
    (local.set $rowBytes (i32.shl (local.get $width) (i32.const 2)))
    (block $rowsDone (loop $rowLoop
      (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $base (i32.mul (local.get $row) (local.get $rowBytes)))
      (local.set $acc (v128.const f32x4 0 0 0 0))
      (local.set $j (i32.const 0))
      (block $sumDone (loop $sumLoop
        (br_if $sumDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
        (local.set $v (v128.load (i32.add (local.get $x) (i32.add (local.get $base) (local.get $j)))))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $v) (local.get $v))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $sumLoop)))
      (local.set $rr
        (f32.div (f32.const 1)
          (f32.sqrt
            (f32.add
              (f32.div
                (f32.add
                  (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                  (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))
                (f32.convert_i32_u (local.get $width)))
              (local.get $eps)))))
      (f32.store (i32.add (local.get $r) (i32.shl (local.get $row) (i32.const 2))) (local.get $rr))
      (local.set $R (f32x4.splat (local.get $rr)))
      (local.set $j (i32.const 0))
      (block $outDone (loop $outLoop
        (br_if $outDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
        (local.set $off (i32.add (local.get $base) (local.get $j)))
        (v128.store (i32.add (local.get $y) (local.get $off))
          (f32x4.mul
            (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $off))) (local.get $R))
            (v128.load (i32.add (local.get $w) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $outLoop)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rowLoop))))

  ;; RMSNorm's gradient, given x, w, r (from "rmsnorm") and dy:
  ;;   dx = (dy*w)*r - x * (r*r*r * sum((dy*w)*x) / width) per row;  dw = sum over rows of dy * (x*r).
  (func (export "rmsnorm_grad")
    (param $x i32) (param $w i32) (param $r i32) (param $dy i32) (param $dx i32) (param $dw i32)
    (param $rows i32) (param $width i32)
    (local $row i32) (local $j i32) (local $base i32) (local $rowBytes i32) (local $off i32)
    (local $acc v128) (local $g v128) (local $xv v128) (local $rr f32) (local $R v128) (local $C v128)
    (local $dot f32)
    (local.set $rowBytes (i32.shl (local.get $width) (i32.const 2)))
    (local.set $j (i32.const 0))
    (block $zeroDone (loop $zeroLoop
      (br_if $zeroDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
      (v128.store (i32.add (local.get $dw) (local.get $j)) (v128.const f32x4 0 0 0 0))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $zeroLoop)))
    (block $rowsDone (loop $rowLoop
      (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $rows)))
      (local.set $base (i32.mul (local.get $row) (local.get $rowBytes)))
      (local.set $rr (f32.load (i32.add (local.get $r) (i32.shl (local.get $row) (i32.const 2)))))
      (local.set $R (f32x4.splat (local.get $rr)))
      (local.set $acc (v128.const f32x4 0 0 0 0))
      (local.set $j (i32.const 0))
      (block $dotDone (loop $dotLoop
        (br_if $dotDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
        (local.set $off (i32.add (local.get $base) (local.get $j)))
        (local.set $g
          (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $off))) (v128.load (i32.add (local.get $w) (local.get $j)))))
        (local.set $xv (v128.load (i32.add (local.get $x) (local.get $off))))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $g) (local.get $xv))))
        (v128.store (i32.add (local.get $dw) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $dw) (local.get $j)))
            (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $off))) (f32x4.mul (local.get $xv) (local.get $R)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $dotLoop)))
      (local.set $dot
        (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
      (local.set $C
        (f32x4.splat
          (f32.div
            (f32.mul (f32.mul (f32.mul (local.get $rr) (local.get $rr)) (local.get $rr)) (local.get $dot))
            (f32.convert_i32_u (local.get $width)))))
      (local.set $j (i32.const 0))
      (block $dxDone (loop $dxLoop
        (br_if $dxDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
        (local.set $off (i32.add (local.get $base) (local.get $j)))
        (v128.store (i32.add (local.get $dx) (local.get $off))
          (f32x4.sub
            (f32x4.mul
              (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $off))) (v128.load (i32.add (local.get $w) (local.get $j))))
              (local.get $R))
            (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $off))) (local.get $C))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $dxLoop)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rowLoop))))
)
