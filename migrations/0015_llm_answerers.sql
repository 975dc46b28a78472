CREATE TABLE `llm_credentials` (
	`app_id` text PRIMARY KEY NOT NULL,
	`ciphertext` text NOT NULL,
	`iv` text NOT NULL,
	`base_url` text,
	`key_hint` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `executions` ADD `llm_model` text;