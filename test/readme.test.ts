// The README's engine snippets are what the engine tests configure: the
// harnesses read them (readmeSnippet), so here each must be there, parse, name
// the installed runts, and be read by a harness. No root needed.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { README_RUNTS, TOP, readmeSnippet } from './engines/lib';

const harness = ['test/engines/podman.test.ts', 'test/engines/docker.test.ts', 'test/cri/lib.ts'].map((f) => readFileSync(join(TOP, f), 'utf8')).join('\n');
const toml = (text: string) => text.split('\n').every((l) => /^\s*(#.*|\[[\w.".-]+\]|[\w-]+ = ("[^"]*"|\[("[^"]*"(, )?)*\]|true|false|\d+))?$/.test(l));

t.test('each engine snippet is in the README, parses, and names the installed runts', async (t) => {
  for (const name of ['podman-containers.conf', 'docker-daemon.json', 'containerd-runc-v2.toml']) {
    const text = readmeSnippet(name, README_RUNTS);
    t.match(text, README_RUNTS, `${name}: the installed runts`);
    t.match(harness, `readmeSnippet('${name}'`, `${name}: read by an engine test`);
    t.not(readmeSnippet(name, '/x/runts'), text, `${name}: the runtime under test replaces it`);
    if (name.endsWith('.json')) t.doesNotThrow(() => JSON.parse(text), `${name} is JSON`);
    else t.ok(toml(text), `${name} is TOML of tables and plain keys`);
  }
  t.same(JSON.parse(readmeSnippet('docker-daemon.json', '/x/runts')), { runtimes: { runts: { path: '/x/runts' } }, 'default-runtime': 'runts' });
  t.match(readmeSnippet('podman-containers.conf'), /^\[engine\]\n/, "podman's harness adds its keys to this [engine] table");
  t.match(readmeSnippet('containerd-runc-v2.toml'), /\.runtimes\.runts\]\n\s+runtime_type = "io\.containerd\.runc\.v2"\n[^]*BinaryName = /);
  const shimStanza = readmeSnippet('containerd-runts-shim.toml');
  t.ok(toml(shimStanza), 'containerd-runts-shim.toml is TOML of tables and plain keys');
  t.match(shimStanza, /\.runtimes\.runts-shim\]\n\s+runtime_type = "io\.containerd\.runts\.v1"/, 'the runts-shim handler\'s stanza');
  t.match(harness, "readmeSnippet('containerd-runts-shim.toml'", 'read by the CRI harness');
  t.throws(() => readmeSnippet('no-such-snippet'), /README\.md: no snippet no-such-snippet/);
});

t.test("the README starts with the prerequisites and the two commands a new user runs", async (t) => {
  const readme = readFileSync(join(TOP, 'README.md'), 'utf8');
  t.match(readme, /^# runts\n\nOn a fresh machine \(Debian 12, as root\), after `apt-get install -y git make` and a clone:\n\n```sh\nmake demo [^\n]*\nmake test [^\n]*\n```\n/);
});
