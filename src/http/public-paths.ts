/** Paths answered without a key (and not audited: they read no app's data). */
export const PUBLIC_PATHS = ["/health", "/", "/openapi.json"] as const;
