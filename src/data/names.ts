/** How datasets are named: by content id (ds_…) or by a name whose versions point at content ids. */
import { z } from "zod";

export const DatasetNameSchema = z
  .string()
  .regex(/^(?!ds_)[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "a dataset name is 1–64 letters, digits, '_', '.' or '-', starting with a letter or digit (and not with ds_)");

/** A dataset named by id (ds_…) or by name: what trainAgent and testAgent accept as dataset_id. */
export const DatasetRefSchema = z.string().refine((s) => /^ds_[0-9a-f]{32}$/.test(s) || DatasetNameSchema.safeParse(s).success, "dataset_id must be a dataset id (ds_ and 32 hex digits) or a dataset name");
