/** Temperature scaling and calibration error of softmax confidences. */

/** Mean negative log-likelihood of `labels` under softmax(logits / T). */
export function nll(logits: Float32Array, classes: number, labels: Int32Array, temperature: number): number {
  const n = labels.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const base = i * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[base + c] / temperature);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[base + c] / temperature - max);
    total += Math.log(sum) + max - logits[base + labels[i]] / temperature;
  }
  return n > 0 ? total / n : 0;
}

/** The temperature in [0.05, 20] minimizing NLL (golden-section search on log T). */
export function fitTemperature(logits: Float32Array, classes: number, labels: Int32Array): number {
  if (labels.length === 0) return 1;
  const f = (logT: number) => nll(logits, classes, labels, Math.exp(logT));
  let a = Math.log(0.05);
  let b = Math.log(20);
  const phi = (Math.sqrt(5) - 1) / 2;
  let x1 = b - phi * (b - a);
  let x2 = a + phi * (b - a);
  let f1 = f(x1);
  let f2 = f(x2);
  for (let i = 0; i < 40; i++) {
    if (f1 < f2) {
      b = x2;
      x2 = x1;
      f2 = f1;
      x1 = b - phi * (b - a);
      f1 = f(x1);
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + phi * (b - a);
      f2 = f(x2);
    }
  }
  return Math.exp((a + b) / 2);
}

/** Expected calibration error over equal-width confidence bins. */
export function expectedCalibrationError(confidence: ArrayLike<number>, correct: ArrayLike<boolean>, bins = 15): number {
  const n = confidence.length;
  const conf = new Float64Array(bins);
  const acc = new Float64Array(bins);
  const cnt = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const b = Math.min(bins - 1, Math.floor(confidence[i] * bins));
    conf[b] += confidence[i];
    acc[b] += correct[i] ? 1 : 0;
    cnt[b]++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (cnt[b] > 0) ece += Math.abs(acc[b] - conf[b]) / n;
  return ece;
}
