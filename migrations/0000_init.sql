CREATE TABLE `agent_versions` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`version` integer NOT NULL,
	`run_id` text NOT NULL,
	`checkpoint_key` text NOT NULL,
	`classes` text NOT NULL,
	`params` text NOT NULL,
	`metrics` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `versions_by_agent` ON `agent_versions` (`app_id`,`agent_id`,`version`);--> statement-breakpoint
CREATE UNIQUE INDEX `versions_by_run` ON `agent_versions` (`run_id`);--> statement-breakpoint
CREATE TABLE `agents` (
	`app_id` text NOT NULL,
	`id` text NOT NULL,
	`active_version_id` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `id`)
);
--> statement-breakpoint
CREATE TABLE `api_keys` (
	`key_hash` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`label` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `datasets` (
	`app_id` text NOT NULL,
	`id` text NOT NULL,
	`r2_key` text NOT NULL,
	`examples` integer NOT NULL,
	`classes` integer NOT NULL,
	`bytes` integer NOT NULL,
	`source` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`app_id`, `id`)
);
--> statement-breakpoint
CREATE TABLE `executions` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`version_id` text NOT NULL,
	`input` text NOT NULL,
	`output` text NOT NULL,
	`class_index` integer NOT NULL,
	`confidence` real NOT NULL,
	`fallback` integer NOT NULL,
	`latency_ms` real NOT NULL,
	`tokens` integer DEFAULT 0 NOT NULL,
	`cost_usd` real DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `executions_by_agent` ON `executions` (`app_id`,`agent_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `run_epochs` (
	`run_id` text NOT NULL,
	`epoch` integer NOT NULL,
	`train_loss` real,
	`valid_loss` real,
	`valid_accuracy` real,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`run_id`, `epoch`)
);
--> statement-breakpoint
CREATE TABLE `run_steps` (
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`epoch` integer NOT NULL,
	`examples` integer NOT NULL,
	`train_loss` real,
	`ms` integer NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`run_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `training_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`status` text NOT NULL,
	`training_type` text NOT NULL,
	`dataset_id` text NOT NULL,
	`config` text NOT NULL,
	`plan` text NOT NULL,
	`seq` integer DEFAULT 0 NOT NULL,
	`epoch` integer DEFAULT 0 NOT NULL,
	`best_epoch` integer,
	`training_done` integer DEFAULT false NOT NULL,
	`version_id` text,
	`error` text,
	`last_error` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `runs_by_agent` ON `training_runs` (`app_id`,`agent_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `runs_by_status` ON `training_runs` (`status`,`updated_at`);