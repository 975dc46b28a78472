/** The base's bytes in Node (benchmarks, scripts): read from the file next to this one. */
import { readFileSync } from "node:fs";

const file = readFileSync(new URL("./glove-en.bin", import.meta.url));

export default file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;
