ALTER TABLE `api_keys` ADD `requests_per_minute` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `max_concurrent_runs` integer;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `max_stored_bytes` integer;--> statement-breakpoint
ALTER TABLE `training_runs` ADD `requested_by` text;