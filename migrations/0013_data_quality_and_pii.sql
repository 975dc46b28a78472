CREATE TABLE `pii_policies` (
	`app_id` text PRIMARY KEY NOT NULL,
	`policy` text,
	`hash_key` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `datasets` ADD `quality_score` real;