import { describe, expect, it } from "vitest";
import { decodeCheckpoint, encodeCheckpoint, fromHalf, toHalf } from "../../src/model/checkpoint.ts";
import { Rng } from "../../src/model/rng.ts";

const half = (xs: number[]) => {
  const out = new Uint16Array(xs.length);
  toHalf(Float32Array.from(xs), out);
  return out;
};

describe("checkpoints", () => {
  it("float16: exact where representable, round to nearest even, subnormals, overflow, NaN and signed zero", () => {
    expect([...half([0, 1, -2, 0.5, 65504, 2 ** -14, 2 ** -24])]).toEqual([0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x0400, 0x0001]);
    expect([...half([-0])]).toEqual([0x8000]);
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: to even (1); 1 + 3·2^-11 rounds up to 1 + 2^-9.
    expect([...half([1 + 2 ** -11, 1 + 3 * 2 ** -11])]).toEqual([0x3c00, 0x3c02]);
    expect([...half([65520, 1e6, -1e6, Infinity])]).toEqual([0x7c00, 0x7c00, 0xfc00, 0x7c00]);
    expect([...half([2 ** -26])]).toEqual([0]);
    expect(Number.isNaN(fromHalf(half([NaN]))[0])).toBe(true);
    expect(Object.is(fromHalf(half([-0]))[0], -0)).toBe(true);
    const rng = new Rng(9);
    const xs = Float32Array.from({ length: 10_000 }, () => (rng.next() - 0.5) * 2 ** (rng.int(30) - 20));
    const back = fromHalf(half([...xs]));
    xs.forEach((x, i) => {
      if (Math.abs(x) >= 2 ** -14) expect(Math.abs(back[i] - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11);
      else expect(Math.abs(back[i] - x)).toBeLessThanOrEqual(2 ** -25);
    });
  });

  it("keeps float32 tensors bit for bit and stores the chosen ones as float16", () => {
    const a = Float32Array.from([1.1, -2.2, 3.3]);
    const b = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5]);
    const bytes = encodeCheckpoint({ kind: "x" }, { a, "m0/embedding.weight": b }, (n) => (n.endsWith("embedding.weight") ? "f16" : "f32"));
    const { meta, tensors } = decodeCheckpoint<{ kind: string }>(bytes);
    expect(meta.kind).toBe("x");
    expect([...tensors.a]).toEqual([...a]);
    expect([...tensors["m0/embedding.weight"]]).toEqual([...fromHalf(half([...b]))]);
    expect(bytes.length).toBeLessThan(encodeCheckpoint({ kind: "x" }, { a, "m0/embedding.weight": b }).length);
  });

  it("stores int8 with a scale per row: within half a step of each row's scale, a quarter of the bytes", () => {
    const rows = 7;
    const row = 5;
    const w = Float32Array.from({ length: rows * row }, (_, i) => Math.sin(i * 1.7) * (1 + (i % row)));
    w.fill(0, 2 * row, 3 * row); // an all-zero row
    const bytes = encodeCheckpoint({ kind: "x" }, { w }, () => ({ dtype: "i8", row }));
    const back = decodeCheckpoint<{ kind: string }>(bytes).tensors.w;
    for (let r = 0; r < rows; r++) {
      const max = Math.max(...w.subarray(r * row, (r + 1) * row).map(Math.abs));
      for (let i = r * row; i < (r + 1) * row; i++) expect(Math.abs(back[i] - w[i])).toBeLessThanOrEqual(max / 127 / 2 + 1e-7);
    }
    expect([...back.subarray(2 * row, 3 * row)]).toEqual([0, 0, 0, 0, 0]);
    const f32 = encodeCheckpoint({ kind: "x" }, { w: Float32Array.from({ length: 4000 }, (_, i) => Math.cos(i)) });
    const i8 = encodeCheckpoint({ kind: "x" }, { w: Float32Array.from({ length: 4000 }, (_, i) => Math.cos(i)) }, () => ({ dtype: "i8", row: 40 }));
    expect(i8.length / f32.length).toBeLessThan(0.3);
    // A truncated int8 tensor is refused, not read past its end.
    expect(() => decodeCheckpoint(i8.subarray(0, i8.length - 8))).toThrow(/truncated/);
  });
});
