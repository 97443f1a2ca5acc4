import { postChatTurn, SpawnedGateway } from 'test/support/spawn-gateway';

/** A /c1 turn that got its 200: what the client was told. */
export interface AckedTurn {
  conversationId: string;
  text: string;
  answer: string;
}

export interface KillDuringTurnsOptions {
  /** Turns sent at once. */
  turns: number;
  /** Put in each turn's text, which must be unique (`round 3`). */
  label: string;
  /**
   * Conversations to continue, one turn each (so none is busy), taken in this order by every
   * other turn; the rest, and those past the end of the list, start a conversation.
   */
  continuing: string[];
  /**
   * How many turns get their 200 before the kill: a quarter of `turns`, plus a random share
   * of up to `spread × turns`.
   */
  spread: number;
  /** Kills anyway after this long. */
  waitMs: number;
}

export interface KillDuringTurnsResult {
  /** The turns acknowledged (200) before the kill. */
  acked: AckedTurn[];
  /** The conversations the acknowledged turns started. */
  started: string[];
  /** Answers other than 200, counted by `<status> <code>`. */
  refused: Record<string, number>;
}

/**
 * kill -9 while many /c1 turns are in flight (issue #11): sends `turns` turns at once to a
 * spawned gateway, waits until some got their 200, SIGKILLs the process and resolves once it
 * has exited and every request has settled (a request the kill cut was told nothing).
 */
export async function killDuringTurns(
  gw: SpawnedGateway,
  options: KillDuringTurnsOptions,
): Promise<KillDuringTurnsResult> {
  const result: KillDuringTurnsResult = { acked: [], started: [], refused: {} };
  const queue = [...options.continuing];
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < options.turns; i++) {
    const text = `${options.label} turn ${i} ${Math.random().toString(36).slice(2)}`;
    const existing = i % 2 === 0 ? queue.shift() : undefined;
    const body = existing
      ? { messages: [{ role: 'user', content: text }] }
      : { model: 'fake', messages: [{ role: 'user', content: text }] };
    inFlight.push(
      postChatTurn(gw.url, body, existing).then(
        (res) => {
          if (res.status === 200) {
            result.acked.push({
              conversationId: res.body.conversation_id,
              text,
              answer: res.body.choices[0].message.content,
            });
            if (!existing) {
              result.started.push(res.body.conversation_id);
            }
          } else {
            const key = `${res.status} ${res.body?.error?.code}`;
            result.refused[key] = (result.refused[key] ?? 0) + 1;
          }
        },
        () => undefined, // cut by the kill: the client was told nothing
      ),
    );
  }
  const target =
    Math.ceil(options.turns / 4) + Math.floor(Math.random() * options.turns * options.spread);
  const deadline = Date.now() + options.waitMs;
  while (result.acked.length < target && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2));
  }
  gw.kill('SIGKILL');
  await gw.exited;
  await Promise.all(inFlight);
  return result;
}
