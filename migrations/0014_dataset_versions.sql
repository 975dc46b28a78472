CREATE TABLE `dataset_versions` (
	`app_id` text NOT NULL,
	`name` text NOT NULL,
	`version` integer NOT NULL,
	`dataset_id` text NOT NULL,
	`parent_dataset_id` text,
	`lineage` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `name`, `version`)
);
--> statement-breakpoint
CREATE INDEX `dataset_versions_by_dataset` ON `dataset_versions` (`app_id`,`dataset_id`);