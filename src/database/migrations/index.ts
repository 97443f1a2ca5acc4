/** Every migration in order; the app, the CLI and the drift test share this list. */
export const MIGRATIONS: Function[] = [];
