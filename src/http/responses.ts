/** OpenAPI descriptions of the error responses every route may give. */
import { z } from "zod";

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

const err = (description: string) => ({ description, content: { "application/json": { schema: ErrorSchema } } });

export const ERROR_RESPONSES = {
  400: err("Invalid request: `issues` names each field and the reason"),
  401: err("Missing, unknown, revoked or expired API key"),
  403: err("The key lacks the route's scope (named in the error), or does not reach the agent"),
  404: err("Not found (or owned by another app)"),
  409: err("Conflicts with the current state"),
  413: err("Body larger than the limit"),
  415: err("Body not sent as application/json"),
  422: err("Refused by a check (the data quality gate), or an Idempotency-Key reused with another request"),
  429: err("Too many failed authentications from this address or key prefix: retry after Retry-After seconds"),
} as const;

export const SECURITY = [{ Bearer: [] }];
