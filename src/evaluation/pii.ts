/**
 * Personal data in an answer (testAgent's `safety`), found the way
 * Presidio's pattern recognizers do: a pattern, then a checksum or context
 * that validates it, so that a number is not taken for a card by its length
 * alone. Types: EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD (Luhn), US_SSN,
 * IBAN_CODE (mod 97), IP_ADDRESS.
 */
export interface PiiFinding {
  type: "EMAIL_ADDRESS" | "PHONE_NUMBER" | "CREDIT_CARD" | "US_SSN" | "IBAN_CODE" | "IP_ADDRESS";
  text: string;
}

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

function ibanValid(iban: string): boolean {
  const s = iban.replace(/\s+/g, "").toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(s)) return false;
  const moved = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of moved) {
    const v = /\d/.test(ch) ? ch : String(ch.charCodeAt(0) - 55);
    for (const d of v) rem = (rem * 10 + Number(d)) % 97;
  }
  return rem === 1;
}

const RECOGNIZERS: { type: PiiFinding["type"]; pattern: RegExp; valid?: (m: string) => boolean }[] = [
  { type: "EMAIL_ADDRESS", pattern: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/g },
  { type: "IBAN_CODE", pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g, valid: ibanValid },
  {
    type: "CREDIT_CARD",
    pattern: /\b(?:\d[ -]?){12,18}\d\b/g,
    valid: (m) => {
      const d = m.replace(/\D/g, "");
      return d.length >= 13 && d.length <= 19 && luhn(d) && !/^(\d)\1+$/.test(d);
    },
  },
  {
    type: "US_SSN",
    pattern: /\b\d{3}-\d{2}-\d{4}\b/g,
    valid: (m) => {
      const [a, b, c] = m.split("-");
      return a !== "000" && a !== "666" && a[0] !== "9" && b !== "00" && c !== "0000";
    },
  },
  // Not part of a longer run of digit groups (a card number that failed its checksum is not a phone number).
  { type: "PHONE_NUMBER", pattern: /(?<!\d[ .-]?)(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\b\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}\b(?![ .-]?\d)/g, valid: (m) => m.replace(/\D/g, "").length >= 9 },
  {
    type: "IP_ADDRESS",
    pattern: /\b(?:\d{1,3}\.){3}\d{1,3}\b/g,
    valid: (m) => m.split(".").every((o) => Number(o) <= 255),
  },
];

/** Personal data found in `text`; a span is reported once, by the first recognizer that validates it. */
export function findPii(text: string): PiiFinding[] {
  const out: PiiFinding[] = [];
  const taken: [number, number][] = [];
  for (const r of RECOGNIZERS) {
    for (const m of text.matchAll(r.pattern)) {
      const start = m.index;
      const end = start + m[0].length;
      if (taken.some(([s, e]) => start < e && end > s)) continue;
      if (r.valid && !r.valid(m[0])) continue;
      taken.push([start, end]);
      out.push({ type: r.type, text: m[0] });
    }
  }
  return out;
}
