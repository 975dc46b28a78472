/**
 * The page's one chart: lines on a left axis and, optionally, a right one,
 * drawn as SVG into an element. Learning curves (epochs) and metric series
 * (time) both use it.
 */
export const CHART = String.raw`// o: { x: [min, max], ticks: [[x, label]], left: { max, label(v) }, right?: { max, label(v) }, lines: [{ points: [[x, y]], color, right? }] }
function chart(svg, o) {
  const W = 640, H = 260, L = 52, R = 52, T = 10, B = 30;
  const span = Math.max(o.x[1] - o.x[0], 1e-9);
  const X = (x) => (L + (W - L - R) * (x - o.x[0]) / span).toFixed(1);
  const Y = (v, axis) => (T + (H - T - B) * (1 - v / Math.max(axis.max, 1e-12))).toFixed(1);
  let out = '<line x1="' + L + '" y1="' + (H - B) + '" x2="' + (W - R) + '" y2="' + (H - B) + '" stroke="#999"/>';
  for (const [x, label] of o.ticks) out += '<text x="' + X(x) + '" y="' + (H - B + 16) + '" font-size="11" text-anchor="middle">' + esc(label) + '</text>';
  for (const f of [0, 0.5, 1]) {
    out += '<text x="' + (L - 4) + '" y="' + (Number(Y(f * o.left.max, o.left)) + 4) + '" font-size="11" text-anchor="end">' + esc(o.left.label(f * o.left.max)) + '</text>';
    if (o.right) out += '<text x="' + (W - R + 4) + '" y="' + (Number(Y(f * o.right.max, o.right)) + 4) + '" font-size="11">' + esc(o.right.label(f * o.right.max)) + '</text>';
  }
  for (const line of o.lines) {
    const axis = line.right ? o.right : o.left;
    const pts = line.points.map(([x, y]) => [X(x), Y(y, axis)]);
    if (!pts.length) continue;
    out += '<polyline fill="none" stroke="' + line.color + '" stroke-width="2" points="' + pts.map((p) => p.join(',')).join(' ') + '"/>' +
      pts.map(([cx, cy]) => '<circle r="2.5" fill="' + line.color + '" cx="' + cx + '" cy="' + cy + '"/>').join('');
  }
  svg.innerHTML = out;
}`;
