CREATE TABLE `vector_changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`vector_id` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `vector_changes_by_agent` ON `vector_changes` (`app_id`,`agent_id`,`seq`);--> statement-breakpoint
CREATE INDEX `vector_changes_by_time` ON `vector_changes` (`created_at`);