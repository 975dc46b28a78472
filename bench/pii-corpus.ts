/**
 * The labeled PII corpus bench:data measures the detector on: sentences from
 * templates with entities of every type in the formats people write them,
 * and look-alikes that are not PII (order and tracking numbers, dates,
 * versions, amounts, digit strings failing Luhn). Seeded: the same seed, the
 * same corpus. Entities are made valid where a checksum defines validity
 * (Luhn card numbers, mod-97 IBANs, SSNs outside the never-issued ranges).
 */
import type { PiiEntity } from "../src/pii/detect.ts";
import { seededRandom } from "./random.ts";

export interface LabeledText {
  text: string;
  spans: { entity: PiiEntity; start: number; end: number }[];
}


type R = ReturnType<typeof seededRandom>;

const FIRST = ["james", "maria", "wei", "fatima", "olga", "juan", "aisha", "liam", "noah", "emma", "sofia", "arjun", "chen", "kofi", "ines"];
const LAST = ["smith", "garcia", "chen", "okafor", "novak", "silva", "khan", "müller", "rossi", "kim", "dubois", "nguyen"];
const DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "uni.example.ac.uk", "example.io"];

function luhnDigit(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

function ibanCheck(country: string, bban: string): string {
  const moved = bban + country + "00";
  let rem = 0;
  for (const ch of moved) {
    const code = ch.charCodeAt(0);
    const part = code >= 65 ? String(code - 55) : ch;
    for (const d of part) rem = (rem * 10 + Number(d)) % 97;
  }
  return String(98 - rem).padStart(2, "0");
}

const group = (s: string, n: number, sep: string) => s.match(new RegExp(`.{1,${n}}`, "g"))!.join(sep);

export const GENERATORS: Record<Exclude<PiiEntity, "STREET_ADDRESS" | "PERSON">, (r: R) => string> = {
  EMAIL: (r) => `${r.pick(FIRST)}${r.pick([".", "_", ""])}${r.pick(LAST).replace("ü", "u")}${r.next() < 0.3 ? r.int(1, 99) : ""}@${r.pick(DOMAINS)}`,
  PHONE: (r) => {
    const area = r.pick(["212", "415", "617", "312", "206", "303", "512", "646"]);
    const ex = String(r.int(201, 989));
    const line = r.digits(4);
    return r.pick([`(${area}) ${ex}-${line}`, `${area}-${ex}-${line}`, `+1 ${area} ${ex} ${line}`, `${area}.${ex}.${line}`, `+44 20 7${r.digits(3)} ${r.digits(4)}`]);
  },
  CREDIT_CARD: (r) => {
    const kind = r.pick(["visa", "mc", "amex"]);
    const body = kind === "visa" ? "4" + r.digits(14) : kind === "mc" ? "5" + r.int(1, 5) + r.digits(13) : "3" + r.pick(["4", "7"]) + r.digits(12);
    const num = body + luhnDigit(body);
    return kind === "amex" ? r.pick([num, `${num.slice(0, 4)} ${num.slice(4, 10)} ${num.slice(10)}`]) : r.pick([num, group(num, 4, " "), group(num, 4, "-")]);
  },
  IBAN: (r) => {
    const country = r.pick(["DE", "FR", "GB", "NL"]);
    const bban = country === "DE" ? r.digits(18) : country === "FR" ? r.digits(23) : country === "GB" ? "NWBK" + r.digits(14) : "ABNA" + r.digits(10);
    const iban = country + ibanCheck(country, bban) + bban;
    return r.next() < 0.5 ? iban : group(iban, 4, " ");
  },
  US_SSN: (r) => {
    let area = r.int(1, 899);
    if (area === 666) area = 667;
    return `${String(area).padStart(3, "0")}-${String(r.int(1, 99)).padStart(2, "0")}-${String(r.int(1, 9999)).padStart(4, "0")}`;
  },
  IP_ADDRESS: (r) =>
    r.next() < 0.7
      ? `${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`
      : r.next() < 0.5
        ? Array.from({ length: 8 }, () => r.int(0, 65535).toString(16)).join(":")
        : `2001:db8:${r.int(0, 65535).toString(16)}::${r.int(1, 65535).toString(16)}`,
  CREDENTIAL: (r) => {
    const alnum = (n: number, set = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") => Array.from({ length: n }, () => set[r.int(0, set.length - 1)]).join("");
    return r.pick([`AKIA${alnum(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}`, `ghp_${alnum(36)}`, `sk-${alnum(48)}`, `xoxb-${r.digits(12)}-${alnum(24)}`, `sk_live_${alnum(24)}`]);
  },
};

/** Not PII, but digits and dots and dashes like it. */
const LOOKALIKES: ((r: R) => string)[] = [
  (r) => `order #${r.digits(r.int(6, 12))}`,
  (r) => `tracking 1Z${r.digits(16)}`,
  (r) => `on 20${r.int(10, 29)}-${String(r.int(1, 12)).padStart(2, "0")}-${String(r.int(1, 28)).padStart(2, "0")}`,
  (r) => `version ${r.int(1, 9)}.${r.int(0, 20)}.${r.int(0, 300)}`,
  (r) => `$${r.int(1, 9)},${r.digits(3)}.${r.digits(2)}`,
  (r) => `reference ${r.digits(4)} ${r.digits(4)}`,
  (r) => `${r.int(2, 40)} items for ${r.int(2, 99)} dollars`,
];

const TEMPLATES = [
  "Hi, please send the statement to {} thanks",
  "my details: {} — can you update them?",
  "I tried {} but nothing happened",
  "Contact {} if the transfer fails",
  "is {} still on file?",
  "{}",
  "use {} for the refund please",
];

/** `n` texts, each with one entity (or none: a look-alike) and sometimes two. */
export function piiCorpus(n: number, seed: number): LabeledText[] {
  const r = seededRandom(seed);
  const types = Object.keys(GENERATORS) as (keyof typeof GENERATORS)[];
  const out: LabeledText[] = [];
  for (let i = 0; i < n; i++) {
    const parts: { entity: PiiEntity | null; value: string }[] = [];
    const k = r.next() < 0.2 ? 2 : 1;
    for (let j = 0; j < k; j++) {
      if (r.next() < 0.25) parts.push({ entity: null, value: r.pick(LOOKALIKES)(r) });
      else {
        const t = types[i % types.length === 0 && j === 0 ? 0 : r.int(0, types.length - 1)];
        parts.push({ entity: t, value: GENERATORS[t](r) });
      }
    }
    let text = "";
    const spans: LabeledText["spans"] = [];
    parts.forEach((p, j) => {
      const [before, after] = r.pick(TEMPLATES).split("{}");
      text += (j > 0 ? " and " : "") + before;
      if (p.entity) spans.push({ entity: p.entity, start: text.length, end: text.length + p.value.length });
      text += p.value + after;
    });
    out.push({ text, spans });
  }
  return out;
}
