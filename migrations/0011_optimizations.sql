CREATE TABLE `optimization_trials` (
	`optimization_id` text NOT NULL,
	`rung` integer NOT NULL,
	`idx` integer NOT NULL,
	`config` text NOT NULL,
	`epochs` integer NOT NULL,
	`score` real,
	`measures` text,
	`finished_at` integer,
	PRIMARY KEY(`optimization_id`, `rung`, `idx`)
);
--> statement-breakpoint
CREATE TABLE `optimizations` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`base_version_id` text NOT NULL,
	`request` text NOT NULL,
	`status` text NOT NULL,
	`rung` integer DEFAULT 0 NOT NULL,
	`analysis` text NOT NULL,
	`report` text,
	`run_id` text,
	`trigger` text NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `optimizations_by_agent` ON `optimizations` (`app_id`,`agent_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `optimizations_one_active` ON `optimizations` (`app_id`,`agent_id`) WHERE "optimizations"."status" IN ('searching', 'comparing');--> statement-breakpoint
ALTER TABLE `agents` ADD `optimization_schedule` text;