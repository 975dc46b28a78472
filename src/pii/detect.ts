/**
 * PII detection, the way Presidio does it: each entity type has a pattern,
 * a checksum or validator where one exists (Luhn for payment cards, mod-97
 * for IBANs, the SSA's rules for US SSNs, octet ranges for IPv4, the URL
 * parser for IPv6, libphonenumber for phone numbers), and context words that
 * raise a weak match (street addresses, person names, high-entropy tokens)
 * to a finding. Spans do not overlap: where two detectors match the same
 * characters, the higher score wins (a card number is not also a phone).
 */
import { findPhoneNumbersInText } from "libphonenumber-js";

export const PII_ENTITIES = ["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "CREDENTIAL", "STREET_ADDRESS", "PERSON"] as const;
export type PiiEntity = (typeof PII_ENTITIES)[number];

export interface PiiSpan {
  entity: PiiEntity;
  start: number;
  end: number;
  /** 0–1: a validated pattern 1, a pattern with supporting context less, context-only matches least. */
  score: number;
}

/** Findings from this score on count. */
export const MIN_SCORE = 0.5;

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const CARD = /\b(?:\d[ -]?){12,18}\d\b/g;
const IBAN = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g;
const SSN = /\b(\d{3})[- ](\d{2})[- ](\d{4})\b/g;
const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}\b/g;
const IPV6 = /(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])/g;
/** Credentials with a known shape: cloud and SaaS key prefixes, JWTs, private key headers. */
const KEY_PREFIXES = [
  /\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}/g, // OpenAI
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key id
  /\bgh[pousr]_[A-Za-z0-9]{36}\b/g, // GitHub tokens
  /\bgithub_pat_[A-Za-z0-9_]{22,}/g,
  /\bxox[baprs]-[A-Za-z0-9-]{10,}/g, // Slack
  /\bAIza[0-9A-Za-z_-]{35}\b/g, // Google API key
  /\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}/g, // Stripe
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWT
  /-----BEGIN (?:RSA |EC |OPENSSH )?PRIVATE KEY-----/g,
];
const TOKEN = /\b[A-Za-z0-9_\-+/=]{20,}\b/g;
const CREDENTIAL_CONTEXT = /\b(?:password|passwd|pwd|secret|token|api[ _-]?key|access[ _-]?key|credential|auth)\b/i;
const STREET = /\b\d{1,6}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Parkway|Pkwy|Square|Sq)\b\.?(?:,?\s+(?:Apt|Suite|Unit)\.?\s*\w+)?/g;
const ADDRESS_CONTEXT = /\b(?:address|live|living|lives|ship|shipping|deliver|delivery|send|mail|located|street|moved)\b/i;
/** A name where context supports it: "my name is Jane Doe", "Mr. Smith", "signed, John". */
const PERSON = /\b(?:(?:my name is|name's|i am|i'm|this is|call me|named|contact|signed,?|regards,?|thanks,?|mr\.?|mrs\.?|ms\.?|dr\.?|miss)\s+)((?:[A-Z][a-z'’-]+)(?:\s+[A-Z][a-z'’-]+){0,2})/gi;
/** Words that are capitalized after "I am" and the like without being names. */
const NOT_NAMES = new Set(["Not", "Very", "So", "The", "A", "An", "Trying", "Having", "Looking", "Going", "Unable", "Still", "Here", "Just", "Sorry", "Glad", "Happy", "In", "On", "At", "From", "With", "Your", "My", "This", "That", "It", "Interested", "New", "Calling", "Writing", "Getting", "Waiting", "Sure", "Confused", "Concerned", "Worried", "Locked", "Able", "Also", "Now", "Currently", "Really", "Unhappy", "Frustrated"]);

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function iban(s: string): boolean {
  const v = s.replace(/ /g, "");
  if (v.length < 15 || v.length > 34) return false;
  const moved = v.slice(4) + v.slice(0, 4);
  let rem = 0;
  for (const ch of moved) {
    const code = ch.charCodeAt(0);
    const part = code >= 65 ? String(code - 55) : ch;
    for (const d of part) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

function ssn(area: string, group: string, serial: string): boolean {
  return area !== "000" && area !== "666" && area[0] !== "9" && group !== "00" && serial !== "0000";
}

function ipv6(s: string): boolean {
  if (!s.includes("::") && s.split(":").length !== 8) return false;
  if ((s.match(/::/g) ?? []).length > 1 || !/[0-9A-Fa-f]/.test(s)) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

/** A random-looking token: long, mixed letters and digits, high entropy (a hash, a key) — not a word or a number. */
function secretLike(s: string): boolean {
  return s.length >= 20 && /[a-z]/.test(s) && /[A-Z0-9]/.test(s) && /\d/.test(s) && entropy(s) >= 3.5;
}

const near = (text: string, start: number, end: number, re: RegExp, window = 40) => re.test(text.slice(Math.max(0, start - window), Math.min(text.length, end + window)));

function* matches(re: RegExp, text: string): Generator<RegExpExecArray> {
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) yield m;
}

/** Every finding in `text` (of `entities`, default all), non-overlapping, in order. */
export function detectPii(text: string, entities: readonly PiiEntity[] = PII_ENTITIES): PiiSpan[] {
  const want = new Set(entities);
  const found: PiiSpan[] = [];
  const add = (entity: PiiEntity, start: number, end: number, score: number) => {
    if (want.has(entity) && score >= MIN_SCORE) found.push({ entity, start, end, score });
  };
  for (const m of matches(EMAIL, text)) add("EMAIL", m.index, m.index + m[0].length, 1);
  for (const m of matches(CARD, text)) {
    const digits = m[0].replace(/[ -]/g, "");
    if (digits.length >= 13 && digits.length <= 19 && luhn(digits) && !/^(\d)\1+$/.test(digits)) add("CREDIT_CARD", m.index, m.index + m[0].length, 1);
  }
  for (const m of matches(IBAN, text)) if (iban(m[0])) add("IBAN", m.index, m.index + m[0].length, 1);
  for (const m of matches(SSN, text)) if (ssn(m[1], m[2], m[3])) add("US_SSN", m.index, m.index + m[0].length, m[0].includes("-") ? 0.9 : 0.6);
  for (const m of matches(IPV4, text)) if (m[0].split(".").every((o) => Number(o) <= 255 && (o.length === 1 || o[0] !== "0"))) add("IP_ADDRESS", m.index, m.index + m[0].length, 0.95);
  for (const m of matches(IPV6, text)) if (ipv6(m[0])) add("IP_ADDRESS", m.index, m.index + m[0].length, 0.95);
  for (const re of KEY_PREFIXES) for (const m of matches(re, text)) add("CREDENTIAL", m.index, m.index + m[0].length, 1);
  for (const m of matches(TOKEN, text)) if (secretLike(m[0])) add("CREDENTIAL", m.index, m.index + m[0].length, near(text, m.index, m.index + m[0].length, CREDENTIAL_CONTEXT) ? 0.9 : 0.6);
  for (const m of matches(STREET, text)) add("STREET_ADDRESS", m.index, m.index + m[0].length, near(text, m.index, m.index + m[0].length, ADDRESS_CONTEXT) ? 0.85 : 0.6);
  for (const m of matches(PERSON, text)) {
    const words = m[1].split(/\s+/);
    const kept: string[] = [];
    for (const w of words) {
      if (NOT_NAMES.has(w) || !/^[A-Z][a-z'’-]+$/.test(w)) break;
      kept.push(w);
    }
    if (kept.length === 0) continue;
    const start = m.index + m[0].length - m[1].length;
    add("PERSON", start, start + kept.join(" ").length, 0.7);
  }
  for (const p of findPhoneNumbersInText(text, "US")) {
    // Card and account numbers are digits too: a phone must not sit inside one.
    add("PHONE", p.startsAt, p.endsAt, p.number.isValid() ? 0.9 : 0.5);
  }
  // Non-overlapping: the highest score first, then the longest.
  found.sort((a, b) => b.score - a.score || b.end - b.start - (a.end - a.start) || a.start - b.start);
  const kept: PiiSpan[] = [];
  for (const s of found) if (!kept.some((k) => s.start < k.end && k.start < s.end)) kept.push(s);
  return kept.sort((a, b) => a.start - b.start);
}
