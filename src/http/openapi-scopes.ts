/** /openapi.json shows each operation's scope (from the access table) as its security requirement and as `x-scope`. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { SCOPES, SCOPE_DESCRIPTIONS } from "../security/scopes.ts";
import { accessOf } from "./access.ts";

type Document = ReturnType<OpenAPIHono["getOpenAPI31Document"]>;

const METHODS = ["get", "post", "put", "delete", "patch"] as const;

export function withScopes(doc: Document): Document {
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op?.security) continue;
      const access = accessOf(method.toUpperCase(), path);
      if (!access) continue;
      Object.assign(op, {
        security: [{ Bearer: [access.scope] }],
        "x-scope": access.scope,
        ...(access.deploymentAdmin && { "x-admin-secret": access.deploymentAdmin }),
      });
    }
  }
  const table = SCOPES.map((s) => `| \`${s}\` | ${SCOPE_DESCRIPTIONS[s]} |`).join("\n");
  doc.info.description = `${doc.info.description ?? ""}\n\nEach operation needs one scope (\`x-scope\`; a key without it gets 403 naming it):\n\n| scope | allows |\n|---|---|\n${table}`;
  return doc;
}
