DROP INDEX `audit_failures_by_ip`;--> statement-breakpoint
DROP INDEX `audit_failures_by_prefix`;--> statement-breakpoint
CREATE INDEX `audit_failures_by_ip` ON `audit_log` (`ip`,`at`) WHERE action = 'authenticate' AND outcome = 'denied';--> statement-breakpoint
CREATE INDEX `audit_failures_by_prefix` ON `audit_log` (`key_prefix`,`at`) WHERE action = 'authenticate' AND outcome = 'denied';