import { z } from 'zod';

/** The `--reason` every command that needs approval carries. */
export const reasonSchema = z.string().trim().min(1, { error: 'a reason is required' }).max(500, { error: 'the reason must be at most 500 characters' });
