CREATE TABLE `erasures` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text,
	`status` text NOT NULL,
	`phase` text NOT NULL,
	`seq` integer NOT NULL,
	`targets` text,
	`removed` text NOT NULL,
	`requested_by` text NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `erasures_by_app` ON `erasures` (`app_id`,`created_at`);