/** API errors: one JSON shape for every 4xx/5xx the service answers. */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";

export interface IssueDto {
  path: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly issues: IssueDto[] | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(status: ContentfulStatusCode, code: string, message: string, opts: { issues?: IssueDto[]; details?: Record<string, unknown> } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = opts.issues;
    this.details = opts.details;
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}), ...(this.details ?? {}) } };
  }
}

export function pathString(path: readonly PropertyKey[], prefix: readonly PropertyKey[] = []): string {
  const full = [...prefix, ...path];
  return full.length === 0 ? "body" : full.map(String).join(".");
}

export function zodIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): IssueDto[] {
  return error.issues.map((i) => ({ path: pathString(i.path, prefix), message: i.message }));
}

export function invalid(issues: IssueDto[], message?: string): ApiError {
  const first = issues[0];
  return new ApiError(400, "invalid_request", message ?? (first ? `${first.path}: ${first.message}` : "invalid request"), { issues });
}

export function notFound(what: string, id: string): ApiError {
  return new ApiError(404, "not_found", `${what} '${id}' was not found`);
}

export function conflict(message: string, details?: Record<string, unknown>): ApiError {
  return new ApiError(409, "conflict", message, { details });
}
