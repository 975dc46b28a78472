ALTER TABLE `evaluations` ADD `updated_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `evaluations_by_status` ON `evaluations` (`status`,`updated_at`);