import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'parley:isPublic';

/** Opts a route out of the global API-key guard. The set of public routes is pinned by a test. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
