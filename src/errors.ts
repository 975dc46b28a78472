/**
 * Errors the domain layers throw. Each has a kind (what went wrong for the
 * caller), a stable code and, for invalid input, the fields at fault. Only
 * the HTTP layer turns kinds into status codes (src/http/errors.ts), in one
 * place; nothing here knows about HTTP.
 */
import type { z } from "zod";

/** One field at fault: its dotted path (`training_data.3.input`, `config.hidden`) and why. */
export interface Issue {
  path: string;
  message: string;
  /** A machine-readable reason where one applies (the data quality codes: missing_field, empty_input, too_long). */
  code?: string;
}

/**
 * - invalid: the request cannot be carried out as sent (fields named in `issues`);
 * - not_found: the id is unknown, or belongs to another app;
 * - conflict: the request is valid but the current state forbids it;
 * - unavailable: a part of the platform failed; retrying later may succeed;
 * - rejected: the request is well-formed but what it carries fails a check (the data quality gate);
 * - upstream: a service the request needed (a language model's provider) answered with an error or nonsense;
 * - limited: a quota of the caller's key is used up (details.retry_after_seconds: when to try again).
 */
export type ErrorKind = "invalid" | "not_found" | "conflict" | "unavailable" | "rejected" | "upstream" | "limited";

export class DomainError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly issues: Issue[] | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, code: string, message: string, opts: { issues?: Issue[]; details?: Record<string, unknown> } = {}) {
    super(message);
    this.kind = kind;
    this.code = code;
    this.issues = opts.issues;
    this.details = opts.details;
  }
}

export function invalidInput(issues: Issue[], message?: string): DomainError {
  const first = issues[0];
  return new DomainError("invalid", "invalid_request", message ?? (first ? `${first.path}: ${first.message}` : "invalid request"), { issues });
}

export function notFound(what: string, id: string): DomainError {
  return new DomainError("not_found", "not_found", `${what} '${id}' was not found`);
}

export function conflict(code: string, message: string, details?: Record<string, unknown>): DomainError {
  return new DomainError("conflict", code, message, { details });
}

export function limited(code: string, message: string, retryAfterSeconds: number, details: Record<string, unknown> = {}): DomainError {
  return new DomainError("limited", code, message, { details: { ...details, retry_after_seconds: Math.max(1, Math.ceil(retryAfterSeconds)) } });
}

export function unavailable(code: string, message: string): DomainError {
  return new DomainError("unavailable", code, message);
}

/** A dotted path; the whole body when empty. */
export function pathString(path: readonly PropertyKey[], prefix: readonly PropertyKey[] = []): string {
  const full = [...prefix, ...path];
  return full.length === 0 ? "body" : full.map(String).join(".");
}

export function zodIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): Issue[] {
  return error.issues.map((i) => ({ path: pathString(i.path, prefix), message: i.message }));
}
