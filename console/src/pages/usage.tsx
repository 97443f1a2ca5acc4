import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';

interface Group {
  label: string;
  prompt_tokens: number;
  completion_tokens: number;
  requests: number;
}
interface Report {
  by: string;
  from: string;
  to: string;
  groups: Group[];
  total_groups: number;
  series: (Group & { day: string })[];
}

const PAGE = 10;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const COLORS = [
  '#2563eb',
  '#d97706',
  '#059669',
  '#db2777',
  '#7c3aed',
  '#0891b2',
  '#65a30d',
  '#dc2626',
  '#4b5563',
  '#ca8a04',
];

export function UsagePage() {
  const [by, setBy] = useState('model');
  const [from, setFrom] = useState(day(Date.now() - 13 * 86_400_000));
  const [to, setTo] = useState(day(Date.now()));
  const [offset, setOffset] = useState(0);
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const q = new URLSearchParams({ by, from, to, limit: String(PAGE), offset: String(offset) });
    api<Report>('GET', `/api/usage/report?${q}`).then(
      (r) => {
        setReport(r);
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  }, [by, from, to, offset]);

  return (
    <div>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Group by
          <select
            name="by"
            value={by}
            onChange={(e) => {
              setBy(e.currentTarget.value);
              setOffset(0);
            }}
          >
            <option value="model">model</option>
            <option value="key">key</option>
            <option value="user">user</option>
          </select>
        </label>
        <label>
          From
          <input
            type="date"
            name="from"
            value={from}
            onChange={(e) => {
              setFrom(e.currentTarget.value);
              setOffset(0);
            }}
          />
        </label>
        <label>
          To
          <input
            type="date"
            name="to"
            value={to}
            onChange={(e) => {
              setTo(e.currentTarget.value);
              setOffset(0);
            }}
          />
        </label>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {report && <Chart report={report} />}
      {report && (
        <div class="scroll">
          <table>
            <caption>
              Tokens by {report.by}, {report.from} to {report.to} (UTC days)
            </caption>
            <thead>
              <tr>
                <th scope="col">{report.by}</th>
                <th scope="col">Requests</th>
                <th scope="col">Prompt tokens</th>
                <th scope="col">Completion tokens</th>
                <th scope="col">Total</th>
              </tr>
            </thead>
            <tbody>
              {report.groups.map((g) => (
                <tr>
                  <td>{g.label}</td>
                  <td class="num">{g.requests.toLocaleString('en')}</td>
                  <td class="num">{g.prompt_tokens.toLocaleString('en')}</td>
                  <td class="num">{g.completion_tokens.toLocaleString('en')}</td>
                  <td class="num">
                    {(g.prompt_tokens + g.completion_tokens).toLocaleString('en')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {report && (
        <div class="pager">
          <button
            type="button"
            disabled={offset === 0}
            onClick={() => setOffset(Math.max(0, offset - PAGE))}
          >
            Previous
          </button>
          <span>
            {report.total_groups === 0
              ? 'No usage in this range'
              : `${offset + 1}–${offset + report.groups.length} of ${report.total_groups}`}
          </span>
          <button
            type="button"
            disabled={offset + PAGE >= report.total_groups}
            onClick={() => setOffset(offset + PAGE)}
          >
            Next
          </button>
        </div>
      )}
    </div>
  );
}

/** Stacked bars of tokens per day, one colour per group of the page: plain SVG, no library. */
function Chart({ report }: { report: Report }) {
  const days: string[] = [];
  for (
    let t = Date.parse(report.from);
    t <= Date.parse(report.to) && days.length < 400;
    t += 86_400_000
  ) {
    days.push(day(t));
  }
  const labels = report.groups.map((g) => g.label);
  const totals = new Map<string, number>();
  for (const p of report.series) {
    totals.set(p.day, (totals.get(p.day) ?? 0) + p.prompt_tokens + p.completion_tokens);
  }
  const max = Math.max(1, ...totals.values());
  const width = 720;
  const height = 220;
  const barWidth = width / Math.max(days.length, 1);
  const offsets = new Map<string, number>();
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${width} ${height + 20}`}
        role="img"
        aria-label={`Tokens per day by ${report.by}`}
      >
        {report.series.map((p) => {
          const i = days.indexOf(p.day);
          const h = ((p.prompt_tokens + p.completion_tokens) / max) * height;
          const below = offsets.get(p.day) ?? 0;
          offsets.set(p.day, below + h);
          return (
            <rect
              x={i * barWidth + 1}
              y={height - below - h}
              width={Math.max(barWidth - 2, 1)}
              height={h}
              fill={COLORS[labels.indexOf(p.label) % COLORS.length]}
            >
              <title>{`${p.day} ${p.label}: ${p.prompt_tokens + p.completion_tokens} tokens, ${p.requests} requests`}</title>
            </rect>
          );
        })}
        <text x="0" y={height + 15} class="axis">
          {report.from}
        </text>
        <text x={width} y={height + 15} text-anchor="end" class="axis">
          {report.to}
        </text>
      </svg>
      <figcaption>
        {labels.map((l, i) => (
          <span class="legend">
            <svg width="10" height="10" aria-hidden="true">
              <rect width="10" height="10" fill={COLORS[i % COLORS.length]} />
            </svg>{' '}
            {l}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
