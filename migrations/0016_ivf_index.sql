-- vector_postings is WITHOUT ROWID (added by hand): its rows are clustered by (build, list), so a probe reads a list contiguously.
CREATE TABLE `vector_centroids` (
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`build` integer NOT NULL,
	`list_id` integer NOT NULL,
	`centroid` blob NOT NULL,
	PRIMARY KEY(`app_id`, `agent_id`, `build`, `list_id`)
);
--> statement-breakpoint
CREATE TABLE `vector_ivf` (
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`build` integer DEFAULT 0 NOT NULL,
	`embedder` text,
	`dim` integer,
	`nlist` integer DEFAULT 0 NOT NULL,
	`built_count` integer DEFAULT 0 NOT NULL,
	`built_at` integer,
	`building` integer,
	`building_since` integer,
	`last_error` text,
	PRIMARY KEY(`app_id`, `agent_id`)
);
--> statement-breakpoint
CREATE TABLE `vector_postings` (
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`build` integer NOT NULL,
	`list_id` integer NOT NULL,
	`vector_id` text NOT NULL,
	`memory_type` text NOT NULL,
	`version_id` text,
	`scale` real NOT NULL,
	`norm` real NOT NULL,
	`code` blob NOT NULL,
	PRIMARY KEY(`app_id`, `agent_id`, `build`, `list_id`, `vector_id`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `postings_by_vector` ON `vector_postings` (`app_id`,`vector_id`,`build`);