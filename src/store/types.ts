/** The persistence interface lives with the core that depends on it (`src/core/records.ts`). */
export * from '../core/records.js';
