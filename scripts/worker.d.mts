import type { ChildProcess } from "node:child_process";
export const ROOT: string;
export function ensureApiKey(): { key: string; created: boolean };
export function migrateLocal(persistTo?: string): void;
export function startWorker(opts?: { port?: number; persistTo?: string; quiet?: boolean; extraArgs?: string[] }): Promise<{ url: string; stop: () => void; child: ChildProcess; log: () => string }>;
