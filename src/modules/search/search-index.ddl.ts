/**
 * The triggers that keep the search index in step with `messages` (docs/notes/history.md).
 * A message's searchable text is its `text` parts and tool results (not images, tool-call
 * arguments or reasoning); its owner is the user of its tree's conversations (forks share a
 * tree and always a user). Messages never change content after they are stored, so inserts
 * and deletes are all there is to follow.
 *
 * Shared by the migration and by `SearchIndexKeeper`, which recreates the SQLite triggers at
 * boot when a later migration rebuilt `messages` (TypeORM alters a SQLite table by copying
 * it into a new one, and the old table's triggers go with it).
 */
/**
 * The most characters of one message that are indexed: enough for any answer people search,
 * and it bounds what a single huge message costs the (synchronous, in SQLite) insert.
 */
export const SEARCH_INDEXED_CHARS = 65_536;

export interface DdlStatement {
  create: string;
  drop: string;
}

/** The searchable text of `messages.content` (a JSON array of neutral parts), in SQLite. */
const SQLITE_TEXT = (content: string) =>
  `(SELECT group_concat(coalesce(json_extract(p.value, '$.text'), json_extract(p.value, '$.content')), char(10))
    FROM json_each(${content}) p WHERE json_extract(p.value, '$.type') IN ('text', 'tool_result'))`;

/**
 * Texts holding characters of a script written without spaces (Thai, Lao, Myanmar, Khmer,
 * Hangul, kana, CJK ideographs), as a GLOB over code point ranges. Only those go into the
 * trigram index: substring queries need such a character (src/modules/search/search-query.ts),
 * and trigrams of every message cost more than the rest of a stored turn.
 */
export const SQLITE_UNSPACED_GLOB =
  "'*[\u0E00-\u0EFF\u1000-\u109F\u1780-\u17FF\u1100-\u11FF\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF]*'";

/**
 * The first version's triggers (migration History1795500000000): every doc went into the FTS5
 * indexes as it was inserted. Kept for that migration and for reverting SearchIndexQueue.
 */
/**
 * Whether `body` goes into the trigram index: `SQLITE_UNSPACED_GLOB`, tried only on text with a
 * character beyond ASCII (more bytes than characters). Same answer, but the GLOB's character
 * ranges cost tens of microseconds over a long answer, and most text is ASCII.
 */
const SQLITE_IS_UNSPACED = (body: string) =>
  `(length(CAST(${body} AS BLOB)) <> length(${body}) AND ${body} GLOB ${SQLITE_UNSPACED_GLOB})`;

export const SQLITE_DIRECT_INDEX_TRIGGERS: DdlStatement[] = [
  {
    create: `CREATE TRIGGER IF NOT EXISTS message_search_docs_insert AFTER INSERT ON message_search_docs BEGIN
      INSERT INTO message_search_words (rowid, owner, body) VALUES (new.rid, new.owner, new.body);
    END`,
    drop: 'DROP TRIGGER IF EXISTS message_search_docs_insert',
  },
  {
    // External-content FTS5 tables are told what to forget with the old values.
    create: `CREATE TRIGGER IF NOT EXISTS message_search_docs_delete AFTER DELETE ON message_search_docs BEGIN
      INSERT INTO message_search_words (message_search_words, rowid, owner, body) VALUES ('delete', old.rid, old.owner, old.body);
    END`,
    drop: 'DROP TRIGGER IF EXISTS message_search_docs_delete',
  },
  {
    // The same condition on both sides: telling FTS5 to forget a row it never indexed would
    // corrupt the index.
    create: `CREATE TRIGGER IF NOT EXISTS message_search_grams_insert AFTER INSERT ON message_search_docs
      WHEN new.body GLOB ${SQLITE_UNSPACED_GLOB} BEGIN
      INSERT INTO message_search_grams (rowid, body) VALUES (new.rid, new.body);
    END`,
    drop: 'DROP TRIGGER IF EXISTS message_search_grams_insert',
  },
  {
    create: `CREATE TRIGGER IF NOT EXISTS message_search_grams_delete AFTER DELETE ON message_search_docs
      WHEN old.body GLOB ${SQLITE_UNSPACED_GLOB} BEGIN
      INSERT INTO message_search_grams (message_search_grams, rowid, body) VALUES ('delete', old.rid, old.body);
    END`,
    drop: 'DROP TRIGGER IF EXISTS message_search_grams_delete',
  },
];

export const SQLITE_MESSAGE_TRIGGERS: DdlStatement[] = [
  {
    create: `CREATE TRIGGER IF NOT EXISTS messages_search_insert AFTER INSERT ON messages BEGIN
      INSERT INTO message_search_docs (message_id, user_id, tree_id, owner, body)
      SELECT new.id, c.user_id, new.tree_id, 'U' || hex(c.user_id) || 'U', t.body
      FROM (SELECT substr(${SQLITE_TEXT('new.content')}, 1, ${SEARCH_INDEXED_CHARS}) AS body) t
      JOIN conversations c ON c.id = (SELECT id FROM conversations WHERE tree_id = new.tree_id LIMIT 1)
      WHERE t.body IS NOT NULL AND t.body <> '';
    END`,
    drop: 'DROP TRIGGER IF EXISTS messages_search_insert',
  },
  {
    create: `CREATE TRIGGER IF NOT EXISTS messages_search_delete AFTER DELETE ON messages BEGIN
      DELETE FROM message_search_docs WHERE message_id = old.id;
    END`,
    drop: 'DROP TRIGGER IF EXISTS messages_search_delete',
  },
];

/**
 * New docs are queued in `message_search_pending` and indexed by `SQLITE_INDEX_QUEUED`, which
 * runs last in each transaction (SearchIndexQueue). An FTS5 table writes what it holds in
 * memory to a new segment whenever a later statement of the same transaction opens a statement
 * savepoint, which an INSERT into `messages` (it has triggers) and a multi-row UPDATE do:
 * indexed from a trigger, every message became its own segment and FTS5 spent more on merging
 * them than on the text. Indexed last, a transaction (a whole group commit) writes one.
 */
export const SQLITE_QUEUE_TRIGGERS: DdlStatement[] = [
  {
    create: `CREATE TRIGGER IF NOT EXISTS message_search_docs_queue AFTER INSERT ON message_search_docs BEGIN
      INSERT INTO message_search_pending (rid) VALUES (new.rid);
    END`,
    drop: 'DROP TRIGGER IF EXISTS message_search_docs_queue',
  },
  {
    // External-content FTS5 tables are told what to forget with the old values, and only for
    // rows they indexed: forgetting a row never indexed (still queued) would corrupt them.
    create: `CREATE TRIGGER IF NOT EXISTS message_search_docs_unindex AFTER DELETE ON message_search_docs BEGIN
      INSERT INTO message_search_words (message_search_words, rowid, owner, body)
        SELECT 'delete', old.rid, old.owner, old.body
        WHERE NOT EXISTS (SELECT 1 FROM message_search_pending WHERE rid = old.rid);
      INSERT INTO message_search_grams (message_search_grams, rowid, body)
        SELECT 'delete', old.rid, old.body
        WHERE ${SQLITE_IS_UNSPACED('old.body')}
          AND NOT EXISTS (SELECT 1 FROM message_search_pending WHERE rid = old.rid);
      DELETE FROM message_search_pending WHERE rid = old.rid;
    END`,
    drop: 'DROP TRIGGER IF EXISTS message_search_docs_unindex',
  },
];

/**
 * Indexes the queued docs (in the caller's transaction) and empties the queue. CROSS JOIN
 * keeps the queue as the outer loop: without statistics SQLite may scan every doc instead.
 */
export const SQLITE_INDEX_QUEUED = {
  hasQueued: 'SELECT EXISTS (SELECT 1 FROM message_search_pending) AS queued',
  statements: [
    `INSERT INTO message_search_words (rowid, owner, body)
      SELECT d.rid, d.owner, d.body FROM message_search_pending p
      CROSS JOIN message_search_docs d ON d.rid = p.rid`,
    // The same condition as the forgetting side above.
    `INSERT INTO message_search_grams (rowid, body)
      SELECT d.rid, d.body FROM message_search_pending p
      CROSS JOIN message_search_docs d ON d.rid = p.rid
      WHERE ${SQLITE_IS_UNSPACED('d.body')}`,
    'DELETE FROM message_search_pending',
  ],
};

/** The triggers a current database has (SearchIndexKeeper recreates missing ones). */
export const SQLITE_SEARCH_TRIGGERS: DdlStatement[] = [
  ...SQLITE_QUEUE_TRIGGERS,
  ...SQLITE_MESSAGE_TRIGGERS,
];

export const POSTGRES_SEARCH_TRIGGERS: DdlStatement[] = [
  {
    // `content` is JSON text. JSON allows \\u0000 and lone surrogate escapes, which jsonb refuses:
    // those escapes (not an escaped backslash before a `u`) are blanked before the cast.
    create: `CREATE OR REPLACE FUNCTION parley_message_search_text(content text) RETURNS text
      LANGUAGE sql IMMUTABLE AS $$
        SELECT coalesce(string_agg(coalesce(p.part->>'text', p.part->>'content'), E'\\n' ORDER BY p.n), '')
        FROM (
          SELECT CASE WHEN content ~ '\\\\u(0000|[dD][89a-fA-F])'
            THEN regexp_replace(content, '(^|[^\\\\])((\\\\\\\\)*)\\\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})', '\\1\\2 ', 'g')
            ELSE content END AS json
        ) c,
        jsonb_array_elements(
          CASE WHEN jsonb_typeof(c.json::jsonb) = 'array' THEN c.json::jsonb ELSE '[]'::jsonb END
        ) WITH ORDINALITY AS p(part, n)
        WHERE p.part->>'type' IN ('text', 'tool_result')
      $$`,
    drop: 'DROP FUNCTION IF EXISTS parley_message_search_text(text)',
  },
  {
    create: `CREATE OR REPLACE FUNCTION parley_message_search_insert() RETURNS trigger
      LANGUAGE plpgsql AS $$
      DECLARE searchable text := left(parley_message_search_text(NEW.content), ${SEARCH_INDEXED_CHARS});
      BEGIN
        IF searchable <> '' THEN
          INSERT INTO message_search_docs (message_id, user_id, tree_id, body)
          SELECT NEW.id, c.user_id, NEW.tree_id, searchable
          FROM conversations c WHERE c.tree_id = NEW.tree_id LIMIT 1
          ON CONFLICT (message_id) DO NOTHING;
        END IF;
        RETURN NULL;
      END $$`,
    drop: 'DROP FUNCTION IF EXISTS parley_message_search_insert()',
  },
  {
    create: `CREATE OR REPLACE FUNCTION parley_message_search_delete() RETURNS trigger
      LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM message_search_docs WHERE message_id = OLD.id;
        RETURN NULL;
      END $$`,
    drop: 'DROP FUNCTION IF EXISTS parley_message_search_delete()',
  },
  {
    create: `CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
      FOR EACH ROW EXECUTE FUNCTION parley_message_search_insert()`,
    drop: 'DROP TRIGGER IF EXISTS messages_search_insert ON messages',
  },
  {
    create: `CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
      FOR EACH ROW EXECUTE FUNCTION parley_message_search_delete()`,
    drop: 'DROP TRIGGER IF EXISTS messages_search_delete ON messages',
  },
];
