CREATE TABLE `agent_memories` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`memory_type` text NOT NULL,
	`content` text NOT NULL,
	`importance` real NOT NULL,
	`confidence` real NOT NULL,
	`tags` text NOT NULL,
	`learned_from` text,
	`access_count` integer DEFAULT 0 NOT NULL,
	`last_accessed_at` integer,
	`expires_at` integer,
	`decayed_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `memories_by_agent` ON `agent_memories` (`app_id`,`agent_id`,`memory_type`,`created_at`);--> statement-breakpoint
CREATE INDEX `memories_by_expiry` ON `agent_memories` (`expires_at`);--> statement-breakpoint
CREATE TABLE `memory_vectors` (
	`id` text PRIMARY KEY NOT NULL,
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`memory_type` text NOT NULL,
	`embedder` text NOT NULL,
	`dim` integer NOT NULL,
	`vector` blob NOT NULL
);
--> statement-breakpoint
CREATE INDEX `vectors_by_agent` ON `memory_vectors` (`app_id`,`agent_id`,`memory_type`);