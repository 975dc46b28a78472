CREATE TABLE `deployments` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`from_version_id` text,
	`to_version_id` text NOT NULL,
	`action` text NOT NULL,
	`actor` text NOT NULL,
	`reason` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deployments_by_agent` ON `deployments` (`app_id`,`agent_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `evaluations` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`version_id` text NOT NULL,
	`compare_version_id` text,
	`status` text NOT NULL,
	`criteria` text NOT NULL,
	`cases` integer NOT NULL,
	`suite_key` text NOT NULL,
	`done` integer DEFAULT 0 NOT NULL,
	`seq` integer DEFAULT 0 NOT NULL,
	`report` text,
	`error` text,
	`created_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `evaluations_by_agent` ON `evaluations` (`app_id`,`agent_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `metric_points` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`value` real NOT NULL,
	`source` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `metrics_by_name` ON `metric_points` (`app_id`,`name`,`at`);--> statement-breakpoint
CREATE TABLE `metric_rollups` (
	`app_id` text NOT NULL,
	`agent_id` text DEFAULT '' NOT NULL,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`hour` integer NOT NULL,
	`count` integer NOT NULL,
	`sum` real NOT NULL,
	`min` real NOT NULL,
	`max` real NOT NULL,
	`p50` real NOT NULL,
	`p95` real NOT NULL,
	PRIMARY KEY(`app_id`, `name`, `agent_id`, `type`, `hour`)
);
--> statement-breakpoint
CREATE TABLE `traffic_splits` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`kind` text NOT NULL,
	`control_version_id` text NOT NULL,
	`treatment_version_id` text NOT NULL,
	`share` real NOT NULL,
	`steps` text,
	`step_index` integer DEFAULT 0 NOT NULL,
	`settings` text NOT NULL,
	`status` text NOT NULL,
	`result` text,
	`step_started_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `splits_by_agent` ON `traffic_splits` (`app_id`,`agent_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `splits_one_active` ON `traffic_splits` (`app_id`,`agent_id`) WHERE "traffic_splits"."status" = 'active';--> statement-breakpoint
ALTER TABLE `executions` ADD `user_id` text;--> statement-breakpoint
ALTER TABLE `executions` ADD `route` text;--> statement-breakpoint
CREATE INDEX `executions_by_route` ON `executions` (`app_id`,`route`);--> statement-breakpoint
ALTER TABLE `training_runs` ADD `deploy` text DEFAULT 'immediate' NOT NULL;