import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ConversationEntity } from 'src/modules/conversations/conversation.entity';

export interface ForkSummary {
  id: string;
  title: string | null;
  updated_at: number;
}

/** Most related conversations listed with a transcript. */
const MAX_FORKS = 50;

/**
 * Forks of a conversation: the user's other conversations pointing into the same message tree
 * (a fork shares its parent's tree). Read through the tree index, at most MAX_FORKS.
 */
@Injectable()
export class ConversationForksRepository {
  constructor(private readonly dataSource: DataSource) {}

  async relatedTo(userId: string, id: string): Promise<ForkSummary[]> {
    const rows = this.dataSource.getRepository(ConversationEntity);
    const self = await rows.findOne({ where: { id, userId }, select: { treeId: true } });
    if (!self) {
      return [];
    }
    const related = await rows
      .createQueryBuilder('c')
      .select(['c.id', 'c.title', 'c.updatedAt'])
      .where('c.treeId = :tree AND c.userId = :userId AND c.id <> :id', {
        tree: self.treeId,
        userId,
        id,
      })
      .orderBy('c.updatedAt', 'DESC')
      .limit(MAX_FORKS)
      .getMany();
    return related.map((c) => ({
      id: c.id,
      title: c.title,
      updated_at: Math.floor(c.updatedAt / 1000),
    }));
  }
}
