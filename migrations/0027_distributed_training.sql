CREATE TABLE `run_shards` (
	`app_id` text NOT NULL,
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`shard` integer NOT NULL,
	`examples` integer NOT NULL,
	`loss_sum` real NOT NULL,
	`ms` integer NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`run_id`, `seq`, `shard`)
);
--> statement-breakpoint
ALTER TABLE `training_runs` ADD `aggregating` integer DEFAULT 0 NOT NULL;