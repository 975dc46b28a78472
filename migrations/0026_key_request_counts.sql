CREATE TABLE `key_request_counts` (
	`key_id` text NOT NULL,
	`minute` integer NOT NULL,
	`app_id` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`key_id`, `minute`)
);
--> statement-breakpoint
CREATE INDEX `key_request_counts_by_minute` ON `key_request_counts` (`minute`);