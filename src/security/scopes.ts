/**
 * What a key may do. Each route and function needs one scope (the table is
 * src/http/access.ts); a key holds a list of them.
 */
export const SCOPES = ["train", "execute", "feedback", "memory:read", "memory:write", "datasets:read", "datasets:write", "deploy", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  train: "train, adapt, test and optimize agents; read their runs, versions, evaluations and metrics; configure them",
  execute: "run agents (executeAgent)",
  feedback: "submit feedback and report metrics",
  "memory:read": "read and search agents' memories",
  "memory:write": "create, change and delete memories; re-embed them",
  "datasets:read": "read datasets, their quality reports and versions; detect and redact PII",
  "datasets:write": "upload and derive datasets; set the PII policy",
  deploy: "promote versions, roll out, run experiments, roll back",
  admin: "manage the app's keys, webhook and language-model secrets; read the audit log",
};

/** What a request did to its resource, as the audit log records it. */
export const AUDIT_ACTIONS = ["read", "write", "delete", "authenticate"] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** ok: answered 2xx/3xx; denied: refused (401/403/429); failed: any other 4xx/5xx. */
export const AUDIT_OUTCOMES = ["ok", "denied", "failed"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];
