/**
 * The one place errors become HTTP responses: one JSON shape for every
 * 4xx/5xx the service answers, `{ error: { code, message, issues?, … } }`.
 * Domain errors map by kind; ApiError carries what only HTTP knows
 * (401, 405, 413, 415, unknown routes).
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";
import { DomainError, type ErrorKind, type Issue } from "../errors.ts";

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly issues: Issue[] | undefined;
  readonly details: Record<string, unknown> | undefined;
  /** Headers the response carries (Retry-After of a 429). */
  readonly headers: Record<string, string> | undefined;

  constructor(status: ContentfulStatusCode, code: string, message: string, opts: { issues?: Issue[]; details?: Record<string, unknown>; headers?: Record<string, string> } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = opts.issues;
    this.details = opts.details;
    this.headers = opts.headers;
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}), ...(this.details ?? {}) } };
  }
}

const STATUS: Record<ErrorKind, ContentfulStatusCode> = { invalid: 400, not_found: 404, conflict: 409, unavailable: 503, rejected: 422, upstream: 502, limited: 429 };

/** Any thrown value as the error the client sees (500 only for what no client input explains). */
export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof DomainError) {
    const retry = err.details?.retry_after_seconds;
    return new ApiError(STATUS[err.kind], err.code, err.message, { issues: err.issues, details: err.details, ...(typeof retry === "number" && { headers: { "Retry-After": String(retry) } }) });
  }
  if (err instanceof HTTPException) {
    if (err.status === 400) return new ApiError(400, "invalid_json", err.message, { issues: [{ path: "body", message: err.message || "the body is not valid JSON" }] });
    if (err.status === 415) return new ApiError(415, "unsupported_media_type", "send the body as JSON with the header Content-Type: application/json");
    return new ApiError(err.status as ContentfulStatusCode, "http_error", err.message || "request failed");
  }
  return new ApiError(500, "internal_error", "internal error; the request was not completed");
}
