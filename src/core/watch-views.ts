/**
 * Replies of scan health: `scans list --failing`, the last runs in `scans show`, the
 * watcher's alerts and `scans watch`. Pure functions; no I/O.
 */
import type { ScanDefinition, ScanHistoryEntry } from '../mde/entities.js';
import type { Badge, Block, Button, Fact, Item, Reply } from './reply.js';
import { scannerName, type AgentHealth, type DefinitionHealth } from './scan-health.js';
import type { WatchStatus } from './watch.js';
import { PAGE_SIZE, ago, shortId, statusBadge, truncate, when, whenAgo } from './views.js';

/** What changed between two watch rounds. */
export type WatchChange =
  | { kind: 'failing'; definition: ScanDefinition; health: DefinitionHealth }
  | { kind: 'recovered'; definition: ScanDefinition; health: DefinitionHealth; since: string | null }
  | { kind: 'overdue'; definition: ScanDefinition; health: DefinitionHealth }
  | { kind: 'ran_again'; definition: ScanDefinition; health: DefinitionHealth; since: string }
  | { kind: 'agent_stale'; agent: AgentHealth; scans: string[] }
  | { kind: 'agent_back'; agent: AgentHealth; since: string | null };

const nameOf = (d: ScanDefinition) => d.scanName ?? shortId(d.id);
const hours = (h: number | null) => (h === null ? '—' : `${h} h`);

function definitionButtons(d: ScanDefinition): Button[] {
  return [
    { label: 'Show', action: { type: 'command', command: `scans show ${d.id}` } },
    { label: 'History', action: { type: 'command', command: `scans history ${d.id}` } },
  ];
}

interface ChangeParts {
  badge: Badge;
  /** What changed, with the name: "Core switches: back to Success". */
  title: string;
  /** Since when, the scanner, the last run. */
  facts: Fact[];
  note?: { text: string; tone: 'error' | 'warning' };
  buttons?: Button[];
}

/** One change: what changed, since when, the scanner. */
function changeParts(change: WatchChange, now: Date): ChangeParts {
  switch (change.kind) {
    case 'failing': {
      const f = change.health.failing!;
      return {
        badge: statusBadge(f.status),
        title: `${nameOf(change.definition)}: latest scan ${statusBadge(f.status).text.toLowerCase()}`,
        facts: [
          { label: 'Failing since', value: whenAgo(f.since, now) },
          { label: 'Scanner', value: change.health.scannerName },
        ],
        ...(f.reason ? { note: { text: f.reason, tone: 'error' as const } } : {}),
        buttons: definitionButtons(change.definition),
      };
    }
    case 'recovered': {
      const l = change.health.latest!;
      return {
        badge: statusBadge(l.status),
        title: `${nameOf(change.definition)}: back to ${l.status ?? 'success'}`,
        facts: [
          { label: 'Scanned', value: whenAgo(l.at, now) },
          { label: 'Scanner', value: change.health.scannerName },
          ...(change.since ? [{ label: 'Failing since', value: when(change.since) }] : []),
        ],
        buttons: definitionButtons(change.definition),
      };
    }
    case 'overdue': {
      const o = change.health.overdue!;
      return {
        badge: { text: 'Overdue', kind: 'warning' },
        title: `${nameOf(change.definition)}: no scan for twice its interval (every ${hours(change.definition.intervalInHours)})`,
        facts: [
          { label: 'Last scan', value: o.lastRun ? whenAgo(o.lastRun, now) : 'never' },
          { label: 'Overdue since', value: when(o.since) },
          { label: 'Scanner', value: change.health.scannerName },
        ],
        buttons: definitionButtons(change.definition),
      };
    }
    case 'ran_again': {
      const l = change.health.latest!;
      return {
        badge: statusBadge(l.status),
        title: `${nameOf(change.definition)}: scanning again (${statusBadge(l.status).text.toLowerCase()})`,
        facts: [
          { label: 'Scanned', value: whenAgo(l.at, now) },
          { label: 'Scanner', value: change.health.scannerName },
          { label: 'Overdue since', value: when(change.since) },
        ],
        buttons: definitionButtons(change.definition),
      };
    }
    case 'agent_stale': {
      const a = change.agent;
      return {
        badge: { text: 'Not seen', kind: 'bad' },
        title: `Scanner ${a.name}: not seen for 24 h`,
        facts: [
          { label: 'Last seen', value: a.stale?.lastSeen ? whenAgo(a.stale.lastSeen, now) : 'never' },
          ...(change.scans.length ? [{ label: 'Runs', value: truncate(change.scans.join(', '), 200) }] : []),
        ],
        note: { text: 'Scans assigned to it may not run.', tone: 'warning' },
      };
    }
    case 'agent_back': {
      const a = change.agent;
      return {
        badge: { text: 'Seen again', kind: 'good' },
        title: `Scanner ${a.name}: seen again`,
        facts: [
          { label: 'Last seen', value: whenAgo(a.agent.lastSeen, now) },
          ...(change.since ? [{ label: 'Silent since', value: when(change.since) }] : []),
        ],
      };
    }
  }
}

const BAD_CHANGES = new Set<WatchChange['kind']>(['failing', 'overdue', 'agent_stale']);

/** The alert for one change, or one message listing a burst of them. */
export function alertsReply(changes: WatchChange[], now: Date): Reply {
  const parts = changes.map((c) => changeParts(c, now));
  if (changes.length === 1) {
    const p = parts[0]!;
    const bad = BAD_CHANGES.has(changes[0]!.kind);
    const blocks: Block[] = [
      { type: 'text', text: `Scan watch: ${p.title}`, tone: bad ? 'error' : 'success' },
      { type: 'facts', facts: p.facts },
      ...(p.note ? [{ type: 'text' as const, text: p.note.text, tone: p.note.tone }] : []),
      ...(p.buttons ? [{ type: 'buttons' as const, buttons: p.buttons }] : []),
    ];
    return { visibility: 'public', blocks, summary: p.title };
  }
  const bad = changes.filter((c) => BAD_CHANGES.has(c.kind)).length;
  const heading = `Scan watch: ${changes.length} changes (${bad} new problem${bad === 1 ? '' : 's'}, ${changes.length - bad} recovered)`;
  const items: Item[] = parts.map((p) => ({
    badge: p.badge,
    title: p.title,
    meta: p.facts.map((f) => `${f.label.toLowerCase()} ${f.value}`),
    ...(p.note ? { note: p.note } : {}),
    ...(p.buttons ? { buttons: p.buttons } : {}),
  }));
  return { visibility: 'public', blocks: [{ type: 'heading', text: heading }, { type: 'items', items }], summary: heading };
}

/** `scans list --failing`: failed latest scans and overdue definitions, worst first. */
export function failingList(health: readonly DefinitionHealth[], page: number, now: Date, command = 'scans list --failing --page {page}'): Reply {
  const failing = health
    .filter((h) => h.failing || h.overdue)
    .sort((a, b) => Number(!!b.failing) - Number(!!a.failing) || (a.definition.scanName ?? '').localeCompare(b.definition.scanName ?? ''));
  const heading = `Failing scan definitions: ${failing.length}`;
  if (failing.length === 0) {
    return {
      visibility: 'public',
      blocks: [{ type: 'heading', text: heading }, { type: 'text', text: 'No failing definitions: every latest scan succeeded, and every active definition ran within twice its interval.', tone: 'success' }],
      summary: 'No failing definitions',
    };
  }
  const pages = Math.max(1, Math.ceil(failing.length / PAGE_SIZE));
  const current = Math.min(Math.max(1, page), pages);
  const items = failing.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE).map((h): Item => {
    const d = h.definition;
    const what = h.failing
      ? `latest scan ${statusBadge(h.failing.status).text.toLowerCase()} since ${whenAgo(h.failing.since, now)}`
      : h.overdue!.lastRun
        ? `no scan since ${whenAgo(h.overdue!.lastRun, now)} (every ${hours(d.intervalInHours)})`
        : `never ran (every ${hours(d.intervalInHours)})`;
    const overdueToo = h.failing && h.overdue ? [`overdue since ${when(h.overdue.since)}`] : [];
    return {
      badge: h.failing ? statusBadge(h.failing.status) : { text: 'Overdue', kind: 'warning' },
      title: nameOf(d),
      meta: [what, ...overdueToo, `scanner ${h.scannerName}`, ...(d.isActive ? [] : ['inactive'])],
      ...(h.failing?.reason ? { note: { text: h.failing.reason, tone: 'error' as const } } : {}),
      buttons: definitionButtons(d),
    };
  });
  return {
    visibility: 'public',
    blocks: [{ type: 'heading', text: heading }, { type: 'items', items, paging: pages > 1 ? { page: current, pages, total: failing.length, command } : undefined }],
    summary: heading,
  };
}

/** The last runs of one definition (newest first): status, time, scanner by name; the latest's failure reason. MDE's history gives no duration. */
export function lastRunsBlock(d: ScanDefinition, rows: readonly ScanHistoryEntry[], scanners: Map<string, string>, now: Date): Block {
  const latest = d.latestScan;
  const items = rows.map((r): Item => {
    const badge = statusBadge(r.scanStatus);
    const isLatest = latest?.executionDateTime && r.lastScanned && Date.parse(latest.executionDateTime) === Date.parse(r.lastScanned);
    const reason = isLatest && (badge.kind === 'bad' || badge.kind === 'warning') ? latest?.failureReason : null;
    return {
      badge,
      title: when(r.lastScanned),
      meta: [ago(r.lastScanned, now), `by ${scannerName(scanners, r.scannerId)}`].filter(Boolean),
      ...(reason ? { note: { text: reason, tone: badge.kind === 'bad' ? ('error' as const) : ('warning' as const) } } : {}),
    };
  });
  return { type: 'items', title: `Last ${rows.length === 1 ? 'run' : `${rows.length} runs`}`, items, empty: 'No scans recorded yet.' };
}

function placeName(p: { platform: string; location: Record<string, string> }): string {
  const l = p.location;
  const name = l.channelName ? `#${l.channelName}` : (l.conversationName ?? l.channel ?? l.conversationId ?? '?');
  return `${p.platform} ${truncate(name, 60)}`;
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

/** `scans watch` (and the answers of `here` / `off`). */
export function watchStatusView(status: WatchStatus, headline: string, tone: 'info' | 'success' = 'info', now = new Date()): Reply {
  const blocks: Block[] = [{ type: 'text', text: headline, tone }];
  blocks.push({
    type: 'facts',
    facts: [
      { label: 'This conversation', value: status.watchingHere ? 'receives alerts' : 'does not receive alerts' },
      { label: 'Watch places', value: status.places.length ? status.places.map(placeName).join(', ') : 'none' },
      { label: 'Checks', value: `every ${minutes(status.intervalMs)}${status.places.length ? '' : ' (paused: nobody watches)'}` },
      { label: 'Last check', value: status.lastRound ? whenAgo(status.lastRound, now) : 'not yet' },
    ],
  });
  if (status.open.length > 0) {
    blocks.push({ type: 'items', title: `Open problems: ${status.open.length}`, items: status.open.map((o) => ({ badge: { text: 'Open', kind: 'bad' }, title: o.text, meta: o.since ? [`since ${whenAgo(o.since, now)}`] : [] })) });
  } else if (status.lastRound) {
    blocks.push({ type: 'text', text: 'No open problems at the last check.' });
  }
  return { visibility: 'public', blocks, summary: headline };
}
