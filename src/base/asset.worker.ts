/** The base's bytes in a Worker: wrangler (and the test pool) import .bin files as ArrayBuffer data modules. */
import bytes from "./glove-en.bin";

export default bytes;
