CREATE TABLE `data_keys` (
	`app_id` text NOT NULL,
	`id` text NOT NULL,
	`wrapped` text NOT NULL,
	`iv` text NOT NULL,
	`master_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `id`)
);
--> statement-breakpoint
CREATE INDEX `data_keys_by_master` ON `data_keys` (`master_id`);