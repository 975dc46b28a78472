ALTER TABLE `evaluations` ADD `queued` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `evaluations` ADD `cases_per_step` integer DEFAULT 500 NOT NULL;--> statement-breakpoint
UPDATE `evaluations` SET `queued` = 1 WHERE `cases` > 500;
