import type { ChildProcess } from "node:child_process";
export const ROOT: string;
export function ensureLocalSecrets(): { key: string; adminSecret: string; created: boolean };
export function migrateLocal(persistTo?: string): void;
export function freePort(): Promise<number>;
export function assertPortFree(port: number, hint?: string): Promise<void>;
export function startWorker(opts?: {
  port?: number;
  persistTo?: string;
  quiet?: boolean;
  extraArgs?: string[];
  /** How to choose another port, named in the error when `port` is taken. */
  portHint?: string;
}): Promise<{ url: string; port: number; stop: () => void; child: ChildProcess; log: () => string }>;
