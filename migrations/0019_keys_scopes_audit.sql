CREATE TABLE `apps` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`app_id` text,
	`key_id` text,
	`key_prefix` text,
	`method` text NOT NULL,
	`route` text NOT NULL,
	`resource` text NOT NULL,
	`resource_id` text,
	`action` text NOT NULL,
	`status` integer NOT NULL,
	`outcome` text NOT NULL,
	`reason` text,
	`ip` text,
	`user_agent` text
);
--> statement-breakpoint
CREATE INDEX `audit_by_app` ON `audit_log` (`app_id`,`at`);--> statement-breakpoint
CREATE INDEX `audit_by_key` ON `audit_log` (`key_id`,`at`);--> statement-breakpoint
CREATE INDEX `audit_failures_by_ip` ON `audit_log` (`ip`,`outcome`,`at`);--> statement-breakpoint
CREATE INDEX `audit_failures_by_prefix` ON `audit_log` (`key_prefix`,`outcome`,`at`);--> statement-breakpoint
CREATE INDEX `audit_by_at` ON `audit_log` (`at`);--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_api_keys` (
	`id` text PRIMARY KEY DEFAULT ('key_' || lower(hex(randomblob(12)))) NOT NULL,
	`key_hash` text NOT NULL,
	`app_id` text NOT NULL,
	`label` text,
	`prefix` text,
	`scopes` text DEFAULT '["train","execute","feedback","memory:read","memory:write","datasets:read","datasets:write","deploy","admin"]' NOT NULL,
	`agents` text,
	`expires_at` integer,
	`revoked_at` integer,
	`replaced_by` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_api_keys`("key_hash", "app_id", "label", "created_at") SELECT "key_hash", "app_id", "label", "created_at" FROM `api_keys`;--> statement-breakpoint
DROP TABLE `api_keys`;--> statement-breakpoint
ALTER TABLE `__new_api_keys` RENAME TO `api_keys`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_by_hash` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_by_app` ON `api_keys` (`app_id`);