// How runtsctl shows containers and events: docker's table, JSON otherwise.
import type { shim, supervisor } from '@runts/proto';

type Container = supervisor.Container__Output;

/** "3 seconds ago", "5 minutes ago": docker's relative times, coarse. */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - ms) / 1000));
  const unit = (n: number, u: string) => `${n} ${u}${n === 1 ? '' : 's'} ago`;
  if (s < 60) return s < 1 ? 'Less than a second ago' : unit(s, 'second');
  if (s < 3600) return unit(Math.floor(s / 60), 'minute');
  if (s < 86400) return unit(Math.floor(s / 3600), 'hour');
  return unit(Math.floor(s / 86400), 'day');
}

export function statusText(c: Container, now = Date.now()): string {
  switch (c.status) {
    case 'stopped':
      return `Exited (${c.exitStatus}) ${ago(c.exitedAtMs, now)}`;
    case 'unknown':
      return `Unknown (${c.reason || 'no shim'})`;
    default:
      return c.status.charAt(0).toUpperCase() + c.status.slice(1);
  }
}

export function psTable(cs: Container[], now = Date.now()): string {
  const rows = [['CONTAINER ID', 'STATUS', 'PID', 'GROUP', 'CREATED']];
  for (const c of cs) rows.push([c.id, statusText(c, now), c.pid ? String(c.pid) : '-', c.group || '-', ago(c.createdAtMs, now)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('')).join('\n') + '\n';
}

/** One JSON line per event: the container, the topic, and the event's own fields. */
export function eventLine(e: supervisor.Event__Output): string {
  const env = e.envelope as shim.Envelope__Output | null;
  const body = env?.event ? env[env.event] : undefined;
  return JSON.stringify({ id: e.containerId, seq: env?.seq ?? 0, timestampMs: env?.timestampMs ?? 0, topic: env?.topic ?? '', event: body ?? {} }) + '\n';
}
