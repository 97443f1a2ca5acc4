/** Every TypeORM entity; the app and the CLI share this list. */
export const ENTITIES: Function[] = [];
