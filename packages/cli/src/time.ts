/** The ISO 8601 UTC form of a time, as Date's toISOString() writes it. toISOString()
 * loads ICU's time zone even for UTC, and with no /etc/localtime ICU reads every
 * file under /usr/share/zoneinfo for it (thousands of opens, seconds in a VM
 * without KVM; bench/NOTES.md); the getUTC* fields need no time zone. */
export function isoTime(ms: number = Date.now()): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const y = d.getUTCFullYear();
  const year = y >= 0 && y <= 9999 ? p(y, 4) : (y < 0 ? '-' : '+') + p(Math.abs(y), 6);
  return `${year}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}Z`;
}
