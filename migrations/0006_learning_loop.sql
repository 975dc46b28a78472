CREATE TABLE `adaptations` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`strategy` text NOT NULL,
	`reward_function` text NOT NULL,
	`reported_metrics` text,
	`measured_metrics` text NOT NULL,
	`base_version_id` text NOT NULL,
	`run_id` text,
	`data_key` text,
	`auto_promote` integer NOT NULL,
	`candidate_version_id` text,
	`gate` text,
	`status` text NOT NULL,
	`trigger` text NOT NULL,
	`created_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `adaptations_by_agent` ON `adaptations` (`app_id`,`agent_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `adaptations_by_run` ON `adaptations` (`run_id`);--> statement-breakpoint
CREATE TABLE `feedback` (
	`app_id` text NOT NULL,
	`execution_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`version_id` text NOT NULL,
	`reward` real,
	`label` text,
	`correct_output` text,
	`user_satisfaction` real,
	`comment` text,
	`via` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `execution_id`)
);
--> statement-breakpoint
CREATE INDEX `feedback_by_agent` ON `feedback` (`app_id`,`agent_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`app_id` text NOT NULL,
	`webhook_id` text NOT NULL,
	`status` integer NOT NULL,
	`response` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `webhook_id`)
);
--> statement-breakpoint
CREATE TABLE `webhook_secrets` (
	`app_id` text NOT NULL,
	`id` text NOT NULL,
	`secret` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	PRIMARY KEY(`app_id`, `id`)
);
--> statement-breakpoint
ALTER TABLE `agent_versions` ADD `kind` text DEFAULT 'training' NOT NULL;--> statement-breakpoint
ALTER TABLE `agent_versions` ADD `base_version_id` text;--> statement-breakpoint
ALTER TABLE `agents` ADD `exploration` text;--> statement-breakpoint
ALTER TABLE `agents` ADD `adaptation_policy` text;--> statement-breakpoint
ALTER TABLE `executions` ADD `source` text DEFAULT 'model' NOT NULL;--> statement-breakpoint
ALTER TABLE `executions` ADD `action` integer;--> statement-breakpoint
ALTER TABLE `executions` ADD `propensity` real;--> statement-breakpoint
ALTER TABLE `executions` ADD `explored` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `executions` ADD `context` text;