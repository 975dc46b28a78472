CREATE TABLE `execution_cache` (
	`app_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`version_id` text NOT NULL,
	`key` text NOT NULL,
	`answer` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `agent_id`, `version_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `execution_cache_by_age` ON `execution_cache` (`created_at`);--> statement-breakpoint
ALTER TABLE `agents` ADD `execution_cache` text;--> statement-breakpoint
ALTER TABLE `executions` ADD `cached` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- A new live version: the agent's cached answers go (the next executions answer with it).
CREATE TRIGGER `execution_cache_on_live_change` AFTER UPDATE OF `active_version_id` ON `agents`
WHEN OLD.`active_version_id` IS NOT NEW.`active_version_id`
BEGIN
	DELETE FROM `execution_cache` WHERE `app_id` = NEW.`app_id` AND `agent_id` = NEW.`id`;
END;
--> statement-breakpoint
-- A memory added, removed or changed in what it answers or how it ranks: the cached answers of the versions that read
-- it go — every version's for an agent's own memory, else its version's and those of versions using its memories
-- (access counts, which every retrieval bumps, do not count).
CREATE TRIGGER `execution_cache_on_memory_insert` AFTER INSERT ON `agent_memories`
BEGIN
	DELETE FROM `execution_cache` WHERE `app_id` = NEW.`app_id` AND `agent_id` = NEW.`agent_id` AND (NEW.`version_id` IS NULL OR `version_id` IN
		(SELECT `id` FROM `agent_versions` WHERE `app_id` = NEW.`app_id` AND (`id` = NEW.`version_id` OR `memories_version_id` = NEW.`version_id`)));
END;
--> statement-breakpoint
CREATE TRIGGER `execution_cache_on_memory_delete` AFTER DELETE ON `agent_memories`
BEGIN
	DELETE FROM `execution_cache` WHERE `app_id` = OLD.`app_id` AND `agent_id` = OLD.`agent_id` AND (OLD.`version_id` IS NULL OR `version_id` IN
		(SELECT `id` FROM `agent_versions` WHERE `app_id` = OLD.`app_id` AND (`id` = OLD.`version_id` OR `memories_version_id` = OLD.`version_id`)));
END;
--> statement-breakpoint
CREATE TRIGGER `execution_cache_on_memory_update` AFTER UPDATE OF `memory_type`, `content`, `importance`, `confidence`, `version_id`, `expires_at` ON `agent_memories`
BEGIN
	DELETE FROM `execution_cache` WHERE `app_id` = NEW.`app_id` AND `agent_id` = NEW.`agent_id` AND (NEW.`version_id` IS NULL OR OLD.`version_id` IS NULL OR `version_id` IN
		(SELECT `id` FROM `agent_versions` WHERE `app_id` = NEW.`app_id` AND (`id` IN (NEW.`version_id`, OLD.`version_id`) OR `memories_version_id` IN (NEW.`version_id`, OLD.`version_id`))));
END;
