CREATE TABLE `vector_generations` (
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`generation` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`app_id`, `agent_id`)
);
