/** The `synonyms` package's WordNet-derived dictionary: word → part of speech (n, v, s, a, r) → synonyms (the word itself first). */
declare module "synonyms/dictionary.js" {
  const dictionary: Record<string, Partial<Record<"n" | "v" | "s" | "a" | "r", string[]>>>;
  export default dictionary;
}
