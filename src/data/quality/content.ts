/**
 * inappropriate_content: profanity, slurs and sexual terms, by obscenity's
 * English dataset with its recommended transformers (which see through
 * l33t-speak, spacing and repeated letters and leave "Scunthorpe" alone).
 */
import { englishDataset, englishRecommendedTransformers, RegExpMatcher } from "obscenity";

let matcher: RegExpMatcher | null = null;

export function inappropriate(text: string): boolean {
  matcher ??= new RegExpMatcher({ ...englishDataset.build(), ...englishRecommendedTransformers });
  return matcher.hasMatch(text);
}
