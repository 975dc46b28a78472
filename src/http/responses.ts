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
  401: err("Missing or invalid API key"),
  404: err("Not found (or owned by another app)"),
  409: err("Conflicts with the current state"),
  413: err("Body larger than the limit"),
  415: err("Body not sent as application/json"),
} as const;

export const SECURITY = [{ Bearer: [] }];
