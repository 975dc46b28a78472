DROP INDEX `vectors_by_agent`;--> statement-breakpoint
CREATE INDEX `vectors_by_agent_rowid` ON `memory_vectors` (`app_id`,`agent_id`);