import { MigrationInterface, QueryRunner } from 'typeorm';

/** The `user_id` columns of conversations and idempotency keys (varchar 200). */
const USER_ID_COLUMN_LENGTH = 200;

/** Tables whose rows belong to a user. */
const USER_TABLES = ['conversations', 'idempotency_keys'] as const;

/**
 * Issue #22 item 7: a service key's end users now live in its own namespace (the effective user
 * is `<service key's user_id>/<x-user-id>`). Rows stored before were written under the bare
 * `x-user-id`. They can be told apart from other rows by their user: no key has it (a
 * conversation of a key's own user has that key's `user_id`). When exactly one `user_id` has
 * service keys, every such row was created through it and moves into its namespace, so its end
 * users find their conversations again. With several service users the creator cannot be
 * known: the rows are left as they are (reachable by no key until an operator moves them; see
 * docs/notes/auth.md). Rows whose user is also a key's user stay with that user, as before.
 */
/** A table's name for raw SQL, in the data source's schema when it has one (PostgreSQL). */
function tableName(queryRunner: QueryRunner, table: string): string {
  const driver = queryRunner.connection.driver;
  const schema = (queryRunner.connection.options as { schema?: string }).schema;
  return schema ? `${driver.escape(schema)}.${driver.escape(table)}` : driver.escape(table);
}

/** The one user id that has service keys, or null when none or several do. */
async function onlyServiceUser(queryRunner: QueryRunner): Promise<string | null> {
  const rows = (await queryRunner.query(
    `SELECT DISTINCT user_id FROM ${tableName(queryRunner, 'api_keys')} WHERE role = 'service'`,
  )) as { user_id: string }[];
  return rows.length === 1 ? rows[0].user_id : null;
}

export class ServiceUserNamespace1796390000000 implements MigrationInterface {
  name = 'ServiceUserNamespace1796390000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const isPostgres = queryRunner.connection.driver.options.type === 'postgres';
    const serviceUser = await onlyServiceUser(queryRunner);
    if (serviceUser === null) {
      return;
    }
    const mark = isPostgres ? '$1' : '?';
    const room = USER_ID_COLUMN_LENGTH - serviceUser.length - 1;
    for (const table of USER_TABLES) {
      await queryRunner.query(
        `UPDATE ${tableName(queryRunner, table)} SET user_id = ${mark} || user_id
         WHERE user_id NOT IN (SELECT user_id FROM ${tableName(queryRunner, 'api_keys')})
           AND length(user_id) <= ${room}`,
        [`${serviceUser}/`],
      );
    }
  }

  /** Moves the namespaced rows back to the bare end user (as stored before). */
  async down(queryRunner: QueryRunner): Promise<void> {
    const isPostgres = queryRunner.connection.driver.options.type === 'postgres';
    const serviceUser = await onlyServiceUser(queryRunner);
    if (serviceUser === null) {
      return;
    }
    const prefix = `${serviceUser}/`;
    const [p1, p2] = isPostgres ? ['$1', '$2'] : ['?', '?'];
    for (const table of USER_TABLES) {
      await queryRunner.query(
        `UPDATE ${tableName(queryRunner, table)} SET user_id = substr(user_id, ${prefix.length + 1})
         WHERE substr(user_id, 1, ${prefix.length}) = ${p1} AND length(user_id) > ${p2}`,
        [prefix, prefix.length],
      );
    }
  }
}
