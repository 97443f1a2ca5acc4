import { Conversations1795322800000 } from 'src/database/migrations/1795322800000-Conversations';
import { ApiKeys1795322890000 } from 'src/database/migrations/1795322890000-ApiKeys';
import { UsageDaily1795323435802 } from 'src/database/migrations/1795323435802-UsageDaily';
import { GpuReports1795330000000 } from 'src/database/migrations/1795330000000-GpuReports';
import { ConsoleUsers1796400000000 } from 'src/database/migrations/1796400000000-ConsoleUsers';
import { UsageReportIndex1796400000001 } from 'src/database/migrations/1796400000001-UsageReportIndex';
import { ServiceUserNamespace1796390000000 } from 'src/database/migrations/1796390000000-ServiceUserNamespace';
import { QuotaReservations1796390100000 } from 'src/database/migrations/1796390100000-QuotaReservations';
import { History1795500000000 } from 'src/database/migrations/1795500000000-History';
import { Responses1795400000000 } from 'src/database/migrations/1795400000000-Responses';
import { SearchIndexQueue1796500000000 } from 'src/database/migrations/1796500000000-SearchIndexQueue';

/** Every migration in order; the app, the CLI and the drift test share this list. */
export const MIGRATIONS: Function[] = [
  Conversations1795322800000,
  ApiKeys1795322890000,
  UsageDaily1795323435802,
  GpuReports1795330000000,
  ConsoleUsers1796400000000,
  UsageReportIndex1796400000001,
  ServiceUserNamespace1796390000000,
  QuotaReservations1796390100000,
  History1795500000000,
  Responses1795400000000,
  SearchIndexQueue1796500000000,
];
